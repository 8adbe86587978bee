import assert from 'node:assert/strict'
import { effectiveLimits, DEFAULT_LIMITS, DEFAULT_POLICY } from '../../src/node/executor/limits.js'
import { sandboxArgv } from '../../src/node/executor/spawn.js'
import { detectSandboxSync } from '../../src/node/system/sandbox.js'
import { makeTask } from '../fixtures/handlers/make-task.js'

const MB = 1024 * 1024

describe('executor limits', () => {
  const node = { ...DEFAULT_LIMITS }

  it('takes the stricter of node and task', () => {
    const l = effectiveLimits(makeTask('echo', {}, { timeoutSeconds: 10, sandbox: { maxExecutionTimeSeconds: 4, memoryLimitBytes: 64 * MB, cpuLimitPercent: 90 } }), node, DEFAULT_POLICY)
    assert.equal(l.timeoutMs, 4000)
    assert.equal(l.memoryBytes, 64 * MB)
    assert.equal(l.cpuPercent, 80)
    const big = effectiveLimits(makeTask('echo', {}, { timeoutSeconds: 99_999, sandbox: { memoryLimitBytes: 64 * 1024 * MB, maxExecutionTimeSeconds: 99_999 } }), node, DEFAULT_POLICY)
    assert.equal(big.timeoutMs, DEFAULT_LIMITS.executionTime * 1000)
    assert.equal(big.memoryBytes, DEFAULT_LIMITS.memoryMb * MB)
  })

  it('network needs the network_access grant and the task not refusing it', () => {
    const task = makeTask('echo', {}, { sandbox: { allowNetwork: true } })
    assert.equal(effectiveLimits(task, node, DEFAULT_POLICY).allowNetwork, false)
    const granted = { ...DEFAULT_POLICY, grants: [...DEFAULT_POLICY.grants, 'network_access' as const] }
    assert.equal(effectiveLimits(task, node, granted).allowNetwork, true)
    assert.equal(effectiveLimits(makeTask('echo', {}, { sandbox: { allowNetwork: false } }), node, granted).allowNetwork, false)
    assert.equal(effectiveLimits(makeTask('echo', {}), node, granted).allowNetwork, true)
  })

  it('task sandbox paths narrow, maxFileSize takes the smaller', () => {
    const l = effectiveLimits(makeTask('echo', {}, { sandbox: { allowedPaths: ['/tmp/x'], maxFileSizeBytes: 10 } }), node, DEFAULT_POLICY)
    assert.deepEqual(l.taskPaths, ['/tmp/x'])
    assert.equal(l.maxFileSizeBytes, 10)
  })

  it('sandboxArgv wraps with unshare and prlimit only where they work', () => {
    const tools = detectSandboxSync()
    const argv = sandboxArgv('prog', ['a'], { sandboxEnabled: true, allowNetwork: false, addressSpaceBytes: 100 * MB, requireNetworkIsolation: true, stdio: 'ignore' })
    assert.deepEqual(argv.slice(-3), ['--', 'prog', 'a'].slice(tools.prlimit || tools.unshare ? 0 : 1))
    assert.equal(argv.includes('unshare'), tools.unshare)
    assert.equal(argv.includes(`--as=${100 * MB}`), tools.prlimit)
    assert.deepEqual(sandboxArgv('prog', ['a'], { sandboxEnabled: false, allowNetwork: false, requireNetworkIsolation: true, stdio: 'ignore' }), ['prog', 'a'])
    assert.deepEqual(sandboxArgv('prog', [], { sandboxEnabled: true, allowNetwork: true, requireNetworkIsolation: true, stdio: 'ignore' }), ['prog'])
  })
})
