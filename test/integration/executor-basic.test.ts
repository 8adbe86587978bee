import assert from 'node:assert/strict'
import { TaskExecutor } from '../../src/node/executor/executor.js'
import { makeTask } from '../fixtures/handlers/make-task.js'

describe('TaskExecutor: echo, sleep, system_info', function () {
  this.timeout(20_000)
  let ex: TaskExecutor
  beforeEach(() => { ex = new TaskExecutor({ maxConcurrentTasks: 2, logLevel: 'silent' }) })
  afterEach(async () => { await ex.close() })

  it('echo returns its payload', async () => {
    const out = await ex.execute(makeTask('echo', { message: 'hi', n: [1, 2] }))
    assert.equal(out.status, 'completed')
    assert.deepEqual(out.result, { message: 'hi', n: [1, 2] })
    assert.ok(out.finishedAt >= out.startedAt)
  })

  it('sleep sleeps, reports progress, and resource usage', async () => {
    const seen: number[] = []
    let started = false
    const t0 = Date.now()
    const out = await ex.execute(makeTask('sleep', { duration: 0.6 }), { onStart: () => { started = true }, onProgress: (p) => seen.push(p) })
    assert.equal(out.status, 'completed')
    assert.ok(Date.now() - t0 >= 590, 'slept at least the duration')
    assert.ok(started)
    assert.ok(seen.length >= 3, `progress reported ${seen.length} times`)
    assert.ok(seen.at(-1)! >= 99)
    assert.ok(out.resourceUsage !== undefined && out.resourceUsage.memory > 0)
  })

  it('sleep is cancellable: cancel(id) ends it promptly with cancelled', async () => {
    const task = makeTask('sleep', { duration: 10 })
    const p = ex.execute(task)
    assert.equal(ex.activeCount, 1)
    assert.equal(ex.freeSlots, 1)
    await new Promise(r => setTimeout(r, 100))
    const t0 = Date.now()
    assert.equal(ex.cancel(task.id), true)
    const out = await p
    assert.equal(out.status, 'cancelled')
    assert.equal(out.error?.type, 'cancelled')
    assert.ok(Date.now() - t0 < 500)
    assert.equal(ex.activeCount, 0)
    assert.equal(ex.cancel(task.id), false)
  })

  it('an aborted hooks.signal cancels too', async () => {
    const ac = new AbortController()
    const p = ex.execute(makeTask('sleep', { duration: 10 }), { signal: ac.signal })
    setTimeout(() => ac.abort(), 50)
    assert.equal((await p).status, 'cancelled')
  })

  it('a task over its timeout ends with timeout / timeout_error', async () => {
    const out = await ex.execute(makeTask('sleep', { duration: 10 }, { timeoutSeconds: 0.3 }))
    assert.equal(out.status, 'timeout')
    assert.equal(out.error?.type, 'timeout_error')
    assert.match(out.error!.message, /0.3 s/)
    assert.ok(out.finishedAt - out.startedAt < 1000)
  })

  it('system_info reports capabilities and load', async () => {
    const out = await ex.execute(makeTask('system_info', {}))
    assert.equal(out.status, 'completed')
    const r = out.result as Record<string, unknown>
    assert.equal(typeof r.cpuCores, 'number')
    assert.ok((r.cpuCores as number) >= 1)
    assert.ok((r.memoryGb as number) > 0)
    assert.equal(r.platform, 'linux')
    assert.equal(typeof r.cpuUsage, 'number')
    assert.equal(typeof (r.sandbox as { network: boolean }).network, 'boolean')
  })

  it('wrong payload shape fails with invalid_payload naming the field', async () => {
    const out = await ex.execute(makeTask('sleep', { duration: 'long' }))
    assert.equal(out.status, 'failed')
    assert.equal(out.error?.type, 'invalid_payload')
    assert.match(out.error!.message, /duration/)
    const out2 = await ex.execute(makeTask('sleep', 'x'))
    assert.equal(out2.error?.type, 'invalid_payload')
  })

  it('unknown type → unsupported_operation; missing grant → permission_denied; full → resource_exhausted', async () => {
    assert.equal((await ex.execute(makeTask('nope', {}))).error?.type, 'unsupported_operation')
    const denied = await ex.execute(makeTask('echo', {}, { perms: ['system_commands'] }))
    assert.equal(denied.error?.type, 'permission_denied')
    assert.match(denied.error!.message, /system_commands/)
    const a = ex.execute(makeTask('sleep', { duration: 5 }, { id: 'a' }))
    const b = ex.execute(makeTask('sleep', { duration: 5 }, { id: 'b' }))
    assert.equal(ex.freeSlots, 0)
    const c = await ex.execute(makeTask('echo', {}))
    assert.equal(c.error?.type, 'resource_exhausted')
    ex.cancel('a'); ex.cancel('b')
    assert.deepEqual([(await a).status, (await b).status], ['cancelled', 'cancelled'])
  })

  it('capabilities list the built-ins and the sandbox features', () => {
    const caps = ex.capabilities()
    for (const t of ['echo', 'sleep', 'system_info']) assert.ok(caps.taskTypes.includes(t), t)
    assert.deepEqual(Object.keys(caps.sandbox).sort(), ['cpu', 'filesystem', 'memory', 'network'])
  })
})
