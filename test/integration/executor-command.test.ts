import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, realpathSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type Server, type AddressInfo } from 'node:net'
import { TaskExecutor } from '../../src/node/executor/executor.js'
import { detectSandboxSync } from '../../src/node/system/sandbox.js'
import { makeTask } from '../fixtures/handlers/make-task.js'

describe('command handler', function () {
  this.timeout(20_000)
  let dir: string
  let granted: TaskExecutor
  let plain: TaskExecutor
  before(() => { dir = realpathSync(mkdtempSync(join(tmpdir(), 'rc-cmd-'))) })
  after(() => { rmSync(dir, { recursive: true, force: true }) })
  beforeEach(() => {
    granted = new TaskExecutor({ logLevel: 'silent', node: { grants: ['read_files', 'write_files', 'system_commands'], allowedPaths: [dir] } })
    plain = new TaskExecutor({ logLevel: 'silent', node: { allowedPaths: [dir] } })
  })
  afterEach(async () => { await granted.close(); await plain.close() })

  it('without system_commands: not advertised, permission_denied, and never run', async () => {
    assert.equal(plain.capabilities().taskTypes.includes('command'), false)
    const marker = join(dir, 'should-not-exist')
    for (const payload of [{ command: ['touch', marker] }, { command: `touch ${marker}`, shell: true }]) {
      const out = await plain.execute(makeTask('command', payload))
      assert.equal(out.status, 'failed')
      assert.equal(out.error?.type, 'permission_denied')
      assert.match(out.error!.message, /system_commands/)
    }
    await new Promise(r => setTimeout(r, 100))
    assert.equal(existsSync(marker), false)
  })

  it('argv: runs in an allowed cwd, captures stdout/stderr and the exit code', async () => {
    assert.ok(granted.capabilities().taskTypes.includes('command'))
    const out = await granted.execute(makeTask('command', { command: ['pwd'] }))
    assert.equal(out.status, 'completed', JSON.stringify(out.error))
    assert.deepEqual(out.result, { exitCode: 0, signal: null, stdout: `${dir}\n`, stderr: '', truncated: false })
    const fail = await granted.execute(makeTask('command', { command: ['ls', 'no-such-file'] }))
    assert.equal(fail.status, 'completed')
    const r = fail.result as { exitCode: number, stderr: string }
    assert.notEqual(r.exitCode, 0)
    assert.match(r.stderr, /no-such-file/)
    const checked = await granted.execute(makeTask('command', { command: ['false'], check: true }))
    assert.equal(checked.error?.type, 'execution_error')
  })

  it('shell: true runs a shell line; output is capped', async () => {
    const out = await granted.execute(makeTask('command', { command: 'echo a && echo b >&2; exit 7', shell: true }))
    assert.deepEqual(out.result, { exitCode: 7, signal: null, stdout: 'a\n', stderr: 'b\n', truncated: false })
    const big = await granted.execute(makeTask('command', { command: 'yes | head -c 100000', shell: true, maxOutputBytes: 1000 }))
    const r = big.result as { stdout: string, truncated: boolean }
    assert.equal(r.stdout.length, 1000)
    assert.equal(r.truncated, true)
  })

  it('cwd outside the allowed paths is refused', async () => {
    const out = await granted.execute(makeTask('command', { command: ['pwd'], cwd: '/etc' }))
    assert.equal(out.error?.type, 'permission_denied')
    const up = await granted.execute(makeTask('command', { command: ['pwd'], cwd: '..' }))
    assert.equal(up.error?.type, 'permission_denied')
  })

  it('a hanging command is killed at the timeout, with its children', async () => {
    const t0 = Date.now()
    const out = await granted.execute(makeTask('command', { command: 'sleep 30 & sleep 30; wait', shell: true }, { timeoutSeconds: 0.5 }))
    assert.equal(out.status, 'timeout')
    assert.ok(Date.now() - t0 < 1500)
  })

  it('wrong payload shapes name the field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /payload\.command/],
      [{ command: [1, 2] }, /payload\.command\[0\]/],
      [{ command: ['ls'], shell: true }, /payload\.command/],
      [{ command: ['ls'], cwd: 5 }, /payload\.cwd/],
      [{ command: ['ls'], env: { A: 1 } }, /payload\.env\.A/]
    ]
    for (const [payload, re] of cases) {
      const out = await granted.execute(makeTask('command', payload))
      assert.equal(out.error?.type, 'invalid_payload', JSON.stringify(payload))
      assert.match(out.error!.message, re)
    }
  })

  describe('network', () => {
    let server: Server
    let port: number
    before(async () => {
      server = createServer(s => { s.on('error', () => {}); s.end('hello') })
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      port = (server.address() as AddressInfo).port
    })
    after(() => { server.close() })
    const probe = (p: number) => ({ command: ['python3', '-c', `import socket; socket.create_connection(("127.0.0.1", ${p}), 2); print("connected")`] })

    it('without network_access the command has no network', async function () {
      if (!detectSandboxSync().network || !detectSandboxSync().python3) this.skip()
      const out = await granted.execute(makeTask('command', probe(port)))
      const r = out.result as { exitCode: number, stdout: string }
      assert.notEqual(r.exitCode, 0)
      assert.equal(r.stdout, '')
    })

    it('with network_access granted and allowNetwork, it connects', async function () {
      if (!detectSandboxSync().python3) this.skip()
      const open = new TaskExecutor({ logLevel: 'silent', node: { grants: ['system_commands', 'network_access'], allowedPaths: [dir] } })
      try {
        const out = await open.execute(makeTask('command', probe(port), { sandbox: { allowNetwork: true } }))
        assert.equal((out.result as { stdout: string }).stdout, 'connected\n', JSON.stringify(out))
      } finally { await open.close() }
    })
  })
})
