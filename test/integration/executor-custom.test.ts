import assert from 'node:assert/strict'
import { createServer, type Server, type AddressInfo } from 'node:net'
import { TaskExecutor } from '../../src/node/executor/executor.js'
import { TaskRegistry, loadHandlerModules } from '../../src/node/handlers/registry.js'
import { HandlerLoadError } from '../../src/node/handlers/errors.js'
import { detectSandboxSync } from '../../src/node/system/sandbox.js'
import { initNodeCgroups } from '../../src/node/system/cgroup.js'
import { makeTask } from '../fixtures/handlers/make-task.js'

const FIX = 'test/fixtures/handlers'

describe('TaskExecutor: custom handler modules in child processes', function () {
  this.timeout(30_000)
  let ex: TaskExecutor
  let registry: TaskRegistry

  before(async () => {
    registry = new TaskRegistry()
    await loadHandlerModules([`${FIX}/fibonacci.ts`, `${FIX}/misbehaving.ts`, `${FIX}/inline-counter.js`], registry)
  })
  // one executor for the file: warm handler processes carry over between tests, as on a node
  before(() => {
    ex = new TaskExecutor({ registry, maxConcurrentTasks: 4, logLevel: 'silent', resourceLimits: { memoryMb: 256 } })
  })
  after(async () => { await ex.close() })

  it('loads modules: class, array of classes, instance; advertises their types', () => {
    for (const t of ['fibonacci', 'crash', 'hang', 'memhog', 'chatty', 'inline_counter', 'echo']) {
      assert.ok(ex.capabilities().taskTypes.includes(t), t)
    }
    assert.equal(registry.entry('fibonacci')?.isolation, 'process')
    assert.equal(registry.entry('inline_counter')?.isolation, 'inline')
  })

  it('a node without the module neither advertises nor runs the type', async () => {
    const other = new TaskExecutor({ logLevel: 'silent' })
    try {
      assert.equal(other.capabilities().taskTypes.includes('fibonacci'), false)
      const out = await other.execute(makeTask('fibonacci', { n: 5 }))
      assert.equal(out.error?.type, 'unsupported_operation')
      assert.match(out.error!.message, /fibonacci/)
    } finally { await other.close() }
  })

  it('the seed Fibonacci handler runs as written, in a child process', async () => {
    const out = await ex.execute(makeTask('fibonacci', { n: 20 }))
    assert.equal(out.status, 'completed', JSON.stringify(out.error))
    assert.deepEqual(out.result, { input: 20, result: 6765, algorithm: 'recursive' })
  })

  it('a process handler reports progress and usage from its child; runs in another pid', async () => {
    const progress: Array<[number, number | undefined]> = []
    const out = await ex.execute(makeTask('chatty', { steps: 5 }), { onProgress: (p, u) => progress.push([p, u?.memory]) })
    assert.equal(out.status, 'completed', JSON.stringify(out.error))
    const r = out.result as { pid: number, steps: number }
    assert.notEqual(r.pid, process.pid)
    assert.deepEqual(progress.map(p => p[0]).filter(p => p === 100).length >= 1, true)
    assert.ok(out.resourceUsage !== undefined && out.resourceUsage.memory > 5, `child RSS sampled: ${JSON.stringify(out.resourceUsage)}`)
  })

  it('an inline module handler runs in the node process', async () => {
    const out = await ex.execute(makeTask('inline_counter', { items: [1, 2, 3] }))
    assert.deepEqual(out.result, { pid: process.pid, count: 3 })
  })

  for (const how of ['exit', 'abort', 'timer']) {
    it(`a crashing handler (${how}) fails its task and leaves the node running`, async () => {
      const out = await ex.execute(makeTask('crash', { how }))
      assert.equal(out.status, 'failed')
      assert.equal(out.error?.type, 'execution_error')
      assert.match(out.error!.message, /handler process died/)
      const after = await ex.execute(makeTask('echo', { still: 'alive' }))
      assert.deepEqual(after.result, { still: 'alive' })
    })
  }

  for (const send of [null, 42, { t: 'done', ok: false }, { t: 'done', ok: false, error: null }, { t: 'nonsense' }]) {
    it(`a handler that sends the node ${JSON.stringify(send)} fails its task and leaves the node running`, async () => {
      const out = await ex.execute(makeTask('forged_message', { send }))
      assert.equal(out.status, 'failed')
      assert.equal(out.error?.type, 'execution_error')
      assert.match(out.error!.message, /wrong shape/)
      const after = await ex.execute(makeTask('echo', { still: 'alive' }))
      assert.deepEqual(after.result, { still: 'alive' })
    })
  }

  it('a stdout flood is capped in the node\'s log and does not stall the task', async () => {
    const lines: string[] = []
    const logged = new TaskExecutor({ registry, logger: (_l, m) => lines.push(m) })
    try {
      const out = await logged.execute(makeTask('flood', { lines: 20_000 }))
      assert.deepEqual(out.result, { printed: 20_000 })
      assert.ok(lines.length <= 1001, `${lines.length} log lines`)
      assert.ok(lines.length >= 1000)
      assert.match(lines[1000], /dropped/)
    } finally { await logged.close() }
  })

  it('a thrown error becomes execution_error with its message', async () => {
    const out = await ex.execute(makeTask('throws', {}))
    assert.equal(out.error?.type, 'execution_error')
    assert.match(out.error!.message, /handler said no/)
  })

  it('an unserializable result fails cleanly', async () => {
    const out = await ex.execute(makeTask('unserializable', {}))
    assert.equal(out.status, 'failed')
    assert.match(out.error!.message, /serializ|clone/i)
  })

  it('an infinite loop is killed at the timeout', async () => {
    const t0 = Date.now()
    const out = await ex.execute(makeTask('hang', {}, { timeoutSeconds: 1 }))
    assert.equal(out.status, 'timeout')
    assert.equal(out.error?.type, 'timeout_error')
    assert.ok(Date.now() - t0 < 2500)
    assert.ok(out.resourceUsage !== undefined && out.resourceUsage.cpu > 20, `busy loop CPU sampled: ${JSON.stringify(out.resourceUsage)}`)
  })

  it('where cgroups are writable, a task\'s CPU share is capped (cfs quota)', async function () {
    if (!initNodeCgroups(80).cpu) this.skip()
    const samples: number[] = []
    const out = await ex.execute(makeTask('hang', {}, { timeoutSeconds: 2, sandbox: { cpuLimitPercent: 5 } }), { onProgress: (_p, u) => { if (u !== undefined) samples.push(u.cpu) } })
    assert.equal(out.status, 'timeout')
    // 5 % of a 2-core device is 0.1 core = 10 % of one core; allow sampling jitter
    const later = samples.slice(1)
    assert.ok(later.length > 0 && later.every(c => c < 16), `cpu samples ${JSON.stringify(samples)}`)
  })

  it('a V8-heap hog is killed → failed / resource_exhausted', async () => {
    const out = await ex.execute(makeTask('memhog', {}, { sandbox: { memoryLimitBytes: 96 * 1024 * 1024 } }))
    assert.equal(out.status, 'failed')
    assert.equal(out.error?.type, 'resource_exhausted', JSON.stringify(out.error))
  })

  it('an off-heap (Buffer) hog is killed by the RSS watchdog → resource_exhausted', async () => {
    const out = await ex.execute(makeTask('bufferhog', {}, { sandbox: { memoryLimitBytes: 128 * 1024 * 1024 } }))
    assert.equal(out.status, 'failed')
    assert.equal(out.error?.type, 'resource_exhausted', JSON.stringify(out.error))
    assert.match(out.error!.message, /memory limit/)
  })

  it('cancel kills the child', async () => {
    const task = makeTask('hang', {})
    const p = ex.execute(task)
    await new Promise(r => setTimeout(r, 300))
    ex.cancel(task.id)
    const out = await p
    assert.equal(out.status, 'cancelled')
  })

  it('a clean child is reused for the next task; a crashed or killed one is not', async () => {
    const ex = new TaskExecutor({ registry, logLevel: 'silent' })
    const pidOf = async (): Promise<number> => ((await ex.execute(makeTask('chatty', { steps: 1 }))).result as { pid: number }).pid
    const a = await pidOf()
    assert.equal(ex.idleProcesses, 1)
    assert.equal(await pidOf(), a, 'same warm process')
    const thrown = await ex.execute(makeTask('throws', {}))
    assert.equal(thrown.error?.type, 'execution_error')
    assert.equal(await pidOf(), a, 'a handler error leaves the process usable')
    const hung = await ex.execute(makeTask('hang', {}, { timeoutSeconds: 0.5 }))
    assert.equal(hung.status, 'timeout')
    const b = await pidOf()
    assert.notEqual(b, a, 'the killed process was replaced')
    await ex.close()
    assert.equal(ex.idleProcesses, 0)
    await new Promise(r => setTimeout(r, 100))
    assert.throws(() => process.kill(b, 0), /ESRCH/, 'close() stops idle processes')
  })

  it('idle processes are capped in all, not only per sandbox: tasks asking for many memory limits keep at most maxIdle warm', async function () {
    this.timeout(60_000)
    const capped = new TaskExecutor({ registry, maxConcurrentTasks: 6, logLevel: 'silent', processPool: { maxIdle: 2 } })
    try {
      // six different memory limits: six (module, sandbox) keys, each would keep its child warm
      const outs = await Promise.all([0, 1, 2, 3, 4, 5].map(async i => await capped.execute(makeTask('chatty', { steps: 1 }, { sandbox: { memoryLimitBytes: (200 + i) * 1024 * 1024 } }))))
      assert.deepEqual(outs.map(o => o.status), Array(6).fill('completed'), JSON.stringify(outs.map(o => o.error)))
      const pids = outs.map(o => (o.result as { pid: number }).pid)
      assert.equal(new Set(pids).size, 6)
      assert.equal(capped.idleProcesses, 2)
      await new Promise(r => setTimeout(r, 300))
      const alive = pids.filter(pid => { try { process.kill(pid, 0); return true } catch { return false } })
      assert.equal(alive.length, 2, 'the four beyond the cap were stopped, not only forgotten')
      // a warm child is still taken by a task of its own limit
      const kept = outs.findIndex(o => alive.includes((o.result as { pid: number }).pid))
      const again = await capped.execute(makeTask('chatty', { steps: 1 }, { sandbox: { memoryLimitBytes: (200 + kept) * 1024 * 1024 } }))
      assert.equal((again.result as { pid: number }).pid, pids[kept])
    } finally { await capped.close() }
  })

  it('a fresh process\'s start-up does not count against the task\'s time limit', async () => {
    const fresh = new TaskExecutor({ registry, logLevel: 'silent', processPool: { reuse: false } })
    try {
      // Node + the tsx loader take longer than 0.8 s to start on a busy machine; the 0.3 s of work fits
      const out = await fresh.execute(makeTask('chatty', { steps: 3 }, { timeoutSeconds: 0.8 }))
      assert.equal(out.status, 'completed', JSON.stringify(out.error))
    } finally { await fresh.close() }
  })

  it('with reuse off every task gets a fresh process', async () => {
    const fresh = new TaskExecutor({ registry, logLevel: 'silent', processPool: { reuse: false } })
    try {
      const pids = []
      for (let i = 0; i < 2; i++) pids.push(((await fresh.execute(makeTask('chatty', { steps: 1 }))).result as { pid: number }).pid)
      assert.notEqual(pids[0], pids[1])
      assert.equal(fresh.idleProcesses, 0)
    } finally { await fresh.close() }
  })

  it('bad modules are refused with HandlerLoadError', async () => {
    const r = new TaskRegistry()
    await assert.rejects(r.loadModule(`${FIX}/bad-export.js`), HandlerLoadError)
    await assert.rejects(r.loadModule(`${FIX}/does-not-exist.js`), /cannot import/)
    assert.deepEqual(r.types(), [])
  })

  describe('network', () => {
    let server: Server
    let port: number
    before(async () => {
      server = createServer(s => { s.on('error', () => {}); s.end() })
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      port = (server.address() as AddressInfo).port
    })
    after(() => { server.close() })

    it('allowNetwork=false (or no network_access grant) cuts the child off the network', async function () {
      if (!detectSandboxSync().network) this.skip()
      const out = await ex.execute(makeTask('net_probe', { port }))
      assert.equal(out.status, 'completed', JSON.stringify(out.error))
      assert.equal((out.result as { connected: boolean }).connected, false)
    })

    it('with network_access granted and allowed, the child connects', async () => {
      const open = new TaskExecutor({ registry, logLevel: 'silent', node: { grants: ['network_access'] } })
      try {
        const out = await open.execute(makeTask('net_probe', { port }, { sandbox: { allowNetwork: true } }))
        assert.equal((out.result as { connected: boolean }).connected, true)
      } finally { await open.close() }
    })
  })
})
