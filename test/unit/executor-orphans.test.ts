// Nothing a task started outlives it: a background process left by a `command` (`cmd &`) stays in
// the task's process group after the shell exits, and must die with the run however it ends
// (completed, timeout, executor close). Real processes; each records its pid in a temp dir.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TaskExecutor } from '../../src/node/executor/executor.js'
import { Run } from '../../src/node/executor/run.js'
import { collect, spawnSandboxed } from '../../src/node/executor/spawn.js'
import { makeTask } from '../fixtures/handlers/make-task.js'
import type { EffectiveLimits } from '../../src/node/handlers/context.js'

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** no such process, or a zombie nobody reaps (a container's init may not) */
function gone (pid: number): boolean {
  try { process.kill(pid, 0) } catch (err) { return (err as NodeJS.ErrnoException).code === 'ESRCH' }
  try { return /^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'latin1')) } catch { return true }
}

async function goneWithin (pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms
  for (;;) {
    if (gone(pid)) return true
    if (Date.now() >= until) return false
    await sleep(50)
  }
}

async function pidFrom (file: string, ms = 5000): Promise<number> {
  const until = Date.now() + ms
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8').trim() : ''
    if (/^\d+$/.test(text)) return Number(text)
    if (Date.now() >= until) throw new Error(`no pid in ${file}`)
    await sleep(20)
  }
}

describe('executor: background processes die with their task', function () {
  this.timeout(20_000)
  let dir: string
  let ex: TaskExecutor
  const pids: number[] = []
  before(() => { dir = realpathSync(mkdtempSync(join(tmpdir(), 'rc-orphans-'))) })
  after(() => {
    for (const pid of pids) if (!gone(pid)) try { process.kill(pid, 'SIGKILL') } catch {} // only on failure
    rmSync(dir, { recursive: true, force: true })
  })
  beforeEach(() => {
    ex = new TaskExecutor({ logLevel: 'silent', node: { grants: ['read_files', 'write_files', 'system_commands'], allowedPaths: [dir] } })
  })
  afterEach(async () => { await ex.close() })

  it('completed: a `sleep &` with its output redirected is killed when the task ends', async () => {
    const file = join(dir, 'completed.pid')
    const out = await ex.execute(makeTask('command', { command: `sleep 4711 >/dev/null 2>&1 & echo $! > ${file}; echo started`, shell: true, cwd: dir }))
    assert.equal(out.status, 'completed', JSON.stringify(out.error))
    assert.equal((out.result as { stdout: string }).stdout, 'started\n')
    const pid = await pidFrom(file)
    pids.push(pid)
    assert.ok(await goneWithin(pid, 2000), `background sleep ${pid} outlived its completed task`)
  })

  it('timeout: a `sleep &` holding the output pipe after the shell exited is killed at the deadline', async () => {
    const file = join(dir, 'timeout.pid')
    const t0 = Date.now()
    const out = await ex.execute(makeTask('command', { command: `sleep 4712 & echo $! > ${file}; exit 0`, shell: true, cwd: dir }, { timeoutSeconds: 1 }))
    assert.equal(out.status, 'timeout')
    assert.ok(Date.now() - t0 < 3000)
    const pid = await pidFrom(file)
    pids.push(pid)
    assert.ok(await goneWithin(pid, 2000), `background sleep ${pid} outlived its timed-out task`)
  })

  it('executor close: a `sleep &` whose shell already exited is killed', async () => {
    const file = join(dir, 'close.pid')
    const done = ex.execute(makeTask('command', { command: `sleep 4714 & echo $! > ${file}; exit 0`, shell: true, cwd: dir }))
    const pid = await pidFrom(file)
    pids.push(pid)
    await sleep(200) // the shell has exited; only its background sleep holds the pipe
    await ex.close()
    assert.equal((await done).status, 'cancelled')
    assert.ok(await goneWithin(pid, 2000), `background sleep ${pid} outlived executor.close()`)
  })

  it('collect() settles when the run is killed, even if a process that left the group holds the pipe', async () => {
    const file = join(dir, 'escaped.pid')
    const limits: EffectiveLimits = { timeoutMs: 60_000, memoryBytes: 2 * 1024 ** 3, cpuPercent: 80, allowNetwork: true, allowFilesystem: true, maxFileSizeBytes: 1024 }
    const run = new Run('escaped', limits, {}, Date.now())
    const { child } = spawnSandboxed('/bin/sh', ['-c', `setsid sh -c 'echo $$ > ${file}; exec sleep 4713' & exit 0`], {
      sandboxEnabled: false, allowNetwork: true, requireNetworkIsolation: false, stdio: ['pipe', 'pipe', 'pipe']
    })
    run.track(child)
    const res = collect(child, 1024)
    const pid = await pidFrom(file)
    pids.push(pid)
    run.kill('cancel', 'cancelled')
    const settled = await Promise.race([res.then(() => true, () => true), sleep(2000).then(() => false)])
    assert.ok(settled, 'collect() still pending on a pipe held by a process outside the group')
  })
})
