// HTTP API against a real node: auth, validation, the task/batch/workflow routes, SSE, and the
// contract's JSON shapes. Every request that is refused must change nothing.

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startCluster, type TestCluster } from './cluster.js'
import { ApiClientError, type ClientEvent } from '../../src/node/api/client.js'
import { eventually } from '../helpers/eventually.js'

describe('e2e: HTTP API', function () {
  this.timeout(60_000)
  let cluster: TestCluster
  let url: string
  let token: string

  before(async () => {
    cluster = await startCluster(1)
    url = cluster.clients[0].url
    token = readFileSync(join(cluster.dataDirs[0], 'api-token'), 'utf8').trim()
  })
  after(async () => { await cluster?.stop() })

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}` }): Promise<{ status: number, json: any }> => {
    const res = await fetch(url + path, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
    })
    const text = await res.text()
    return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
  }
  const countTasks = async (): Promise<number> => (await call('GET', '/v1/tasks?limit=10000')).json.length

  it('node.json and api-token were written by the node and point at this API', () => {
    const info = JSON.parse(readFileSync(join(cluster.dataDirs[0], 'node.json'), 'utf8'))
    assert.equal(info.peerId, cluster.nodes[0].id)
    assert.equal(info.apiUrl, cluster.nodes[0].apiUrl())
    assert.ok(Array.isArray(info.multiaddrs) && info.multiaddrs.length > 0, 'Array.isArray(info.multiaddrs) && info.multiaddrs.length > 0')
    assert.ok(token.length >= 16, 'token.length >= 16')
  })

  it('refuses requests without the token with 401, and changes nothing', async () => {
    const before = await countTasks()
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: token }]) {
      const r = await call('POST', '/v1/tasks', { task_type: 'echo', payload: {} }, headers)
      assert.equal(r.status, 401)
      assert.equal(r.json.error.type, 'unauthorized')
    }
    assert.equal((await call('GET', '/v1/nodes', undefined, {})).status, 401)
    assert.equal((await call('GET', '/v1/events', undefined, {})).status, 401)
    assert.equal(await countTasks(), before)
  })

  it('answers bad input with 400 invalid_payload naming the field, and changes nothing', async () => {
    const before = await countTasks()
    const notJson = await call('POST', '/v1/tasks', '{"task_type": ')
    assert.equal(notJson.status, 400)
    assert.equal(notJson.json.error.type, 'invalid_payload')
    const arr = await call('POST', '/v1/tasks', [1, 2])
    assert.equal(arr.status, 400)
    const noType = await call('POST', '/v1/tasks', { payload: { message: 'x' } })
    assert.equal(noType.status, 400)
    assert.equal(noType.json.error.field, 'taskType')
    const badPriority = await call('POST', '/v1/tasks', { task_type: 'echo', payload: {}, priority: 'whenever' })
    assert.equal(badPriority.status, 400)
    assert.equal(badPriority.json.error.type, 'invalid_payload')
    assert.match(badPriority.json.error.field, /priority/)
    const badReq = await call('POST', '/v1/tasks', { task_type: 'echo', payload: {}, requirements: { min_cpu_cores: -2 } })
    assert.equal(badReq.status, 400)
    assert.match(badReq.json.error.field, /cpu/i)
    const badBatch = await call('POST', '/v1/batches', { name: 'b', tasks: [] })
    assert.equal(badBatch.status, 400)
    assert.equal(badBatch.json.error.field, 'tasks')
    const badBatchTask = await call('POST', '/v1/batches', { name: 'b', tasks: [{ task_type: 'echo' }, { payload: 1 }] })
    assert.equal(badBatchTask.status, 400)
    assert.equal(badBatchTask.json.error.field, 'tasks[1].taskType')
    const badStatus = await call('GET', '/v1/tasks?status=sleeping')
    assert.equal(badStatus.status, 400)
    assert.equal(badStatus.json.error.field, 'status')
    const badPeriod = await call('GET', '/v1/metrics?period=forever')
    assert.equal(badPeriod.status, 400)
    assert.equal(badPeriod.json.error.field, 'period')
    assert.equal(await countTasks(), before)
  })

  it('refuses an oversized body with 413', async () => {
    const big = JSON.stringify({ task_type: 'echo', payload: { blob: 'x'.repeat(5 * 1024 * 1024) } })
    const r = await call('POST', '/v1/tasks', big)
    assert.equal(r.status, 413)
    assert.equal(r.json.error.type, 'payload_too_large')
  })

  it('closes the connection after a 401, so a body nobody reads cannot hold it', async () => {
    const { connect } = await import('node:net')
    const u = new URL(url)
    const s = connect(Number(u.port), u.hostname)
    let got = ''
    s.on('data', d => { got += String(d) })
    const closed = new Promise<void>(resolve => { s.on('close', () => { resolve() }) })
    s.write('POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n\r\nxxxx')
    const trickle = setInterval(() => { if (!s.destroyed) s.write('x') }, 100)
    const ok = await Promise.race([closed.then(() => true), new Promise<false>(resolve => setTimeout(() => { resolve(false) }, 3000))])
    clearInterval(trickle)
    s.destroy()
    assert.equal(ok, true, 'the node closed the socket')
    assert.match(got, /^HTTP\/1\.1 401/)
  })

  it('answers a path with broken percent-encoding 400, not 500', async () => {
    const r = await call('GET', '/v1/tasks/%E0')
    assert.equal(r.status, 400)
    assert.equal(r.json.error.type, 'invalid_payload')
    assert.equal(r.json.error.field, 'id')
  })

  it('404s unknown tasks and routes', async () => {
    const r = await call('GET', '/v1/tasks/does-not-exist')
    assert.equal(r.status, 404)
    assert.equal(r.json.error.type, 'not_found')
    assert.equal((await call('DELETE', '/v1/tasks/does-not-exist')).status, 404)
    assert.equal((await call('GET', '/v1/nope')).status, 404)
  })

  it('runs a submitted task: 201 {id}, then the record in the contract shape', async () => {
    const r = await call('POST', '/v1/tasks', { task_type: 'echo', payload: { message: 'hello' }, priority: 'high' })
    assert.equal(r.status, 201)
    assert.equal(typeof r.json.id, 'string')
    const done = await cluster.clients[0].waitTask(r.json.id, 20_000)
    assert.equal(done.status, 'completed')
    assert.equal(done.taskType, 'echo')
    assert.equal(done.priority, 2)
    assert.equal(done.progress, 100)
    assert.equal(typeof done.deviceId, 'string')
    assert.ok(done.createdAt > 0 && done.startedAt! >= done.createdAt && done.finishedAt! >= done.startedAt!, 'done.createdAt > 0 && done.startedAt! >= done.createdAt && done.finishedAt! >...')
    assert.equal(done.attempts.length, 1)
    assert.equal(done.attempts[0].status, 'completed')
    assert.deepEqual(done.result, { message: 'hello' })
    const listed = (await call('GET', '/v1/tasks?status=completed&limit=1000')).json as Array<{ id: string }>
    assert.ok(listed.some(t => t.id === r.json.id), 'listed.some(t => t.id === r.json.id)')
    const onDevice = (await call('GET', `/v1/tasks?device=${encodeURIComponent(done.deviceId!)}&limit=1000`)).json as Array<{ id: string }>
    assert.ok(onDevice.some(t => t.id === r.json.id), 'onDevice.some(t => t.id === r.json.id)')
    // cancelling a finished task is a conflict and changes nothing
    const c = await call('DELETE', `/v1/tasks/${r.json.id}`)
    assert.equal(c.status, 409)
    assert.equal((await cluster.clients[0].getTask(r.json.id)).status, 'completed')
  })

  it('accepts camelCase specs and dedups an idempotency key', async () => {
    const a = await call('POST', '/v1/tasks', { taskType: 'echo', payload: { n: 1 }, idempotency_key: 'k-123' })
    const b = await call('POST', '/v1/tasks', { taskType: 'echo', payload: { n: 1 }, idempotency_key: 'k-123' })
    assert.equal(a.status, 201)
    assert.equal(b.status, 201)
    assert.equal(a.json.id, b.json.id)
  })

  it('cancels a running task with DELETE', async () => {
    const id = await cluster.clients[0].submitTask({ task_type: 'sleep', payload: { duration: 30 } })
    await eventually(async () => (await cluster.clients[0].getTask(id)).status === 'running', { timeoutMs: 15_000, intervalMs: 50 })
    const r = await call('DELETE', `/v1/tasks/${id}`)
    assert.equal(r.status, 200)
    await eventually(async () => (await cluster.clients[0].getTask(id)).status === 'cancelled', { timeoutMs: 10_000, intervalMs: 50 })
  })

  it('keeps a task no node can run pending with a reason naming the type', async () => {
    const id = await cluster.clients[0].submitTask({ task_type: 'no_such_type', payload: {} })
    const t = await eventually(async () => {
      const r = await cluster.clients[0].getTask(id)
      return r.pendingReason !== undefined ? r : false
    }, { timeoutMs: 10_000, intervalMs: 50 })
    assert.equal(t.status === 'pending' || t.status === 'queued', true)
    assert.match(t.pendingReason!, /no_such_type/)
    const waited = await cluster.clients[0].waitTaskOnce(id, 300)
    assert.equal(waited.id, id)
    assert.ok(!['completed', 'failed'].includes(waited.status), `still waiting, got ${waited.status}`)
    await cluster.clients[0].cancelTask(id)
  })

  it('runs a batch and reports its progress', async () => {
    const r = await call('POST', '/v1/batches', { name: 'squares', description: 'e2e', tasks: [1, 2, 3, 4].map(n => ({ task_type: 'echo', payload: { n } })) })
    assert.equal(r.status, 201)
    assert.equal(r.json.taskIds.length, 4)
    const p = await eventually(async () => {
      const b = (await call('GET', `/v1/batches/${r.json.id}`)).json
      return b.completed === 4 ? b : false
    }, { timeoutMs: 20_000, intervalMs: 100 })
    assert.equal(p.total, 4)
    assert.equal(p.failed, 0)
    assert.equal(p.running, 0)
    assert.equal(p.pending, 0)
  })

  it('runs a workflow of steps in dependency order', async () => {
    const r = await call('POST', '/v1/workflows', {
      name: 'two-steps',
      steps: [
        { name: 'first', task: { task_type: 'echo', payload: { step: 1 } }, dependsOn: [] },
        { name: 'second', task: { task_type: 'echo', payload: { step: 2 } }, dependsOn: ['first'] }
      ]
    })
    assert.equal(r.status, 201, JSON.stringify(r.json))
    assert.equal(r.json.taskIds.length, 2)
    const wf = await eventually(async () => {
      const w = (await call('GET', `/v1/workflows/${r.json.id}`)).json
      return w.status === 'completed' ? w : false
    }, { timeoutMs: 20_000, intervalMs: 100 })
    assert.deepEqual(wf.steps.map((s: { name: string }) => s.name), ['first', 'second'])
    const [a, b] = await Promise.all(r.json.taskIds.map(async (id: string) => await cluster.clients[0].getTask(id)))
    assert.ok(b.startedAt >= a.finishedAt, 'second step starts after the first finished')
  })

  it('lists nodes, the queue and metrics in the contract shape', async () => {
    const nodes = (await call('GET', '/v1/nodes')).json
    assert.equal(nodes.length, 1)
    for (const k of ['id', 'name', 'role', 'isLeader', 'platform', 'arch', 'cpuCores', 'memoryGb', 'cpuUsage', 'activeTasks', 'lastSeenMs']) assert.ok(k in nodes[0], k)
    assert.equal(nodes[0].isLeader, true)
    const q = (await call('GET', '/v1/queue')).json
    for (const k of ['size', 'byPriority', 'avgWaitTimeSeconds', 'running', 'pending']) assert.ok(k in q, k)
    const m = (await call('GET', '/v1/metrics?period=24h')).json
    assert.ok(m.totalTasks >= 5, 'm.totalTasks >= 5')
    assert.ok(m.successRate >= 0 && m.successRate <= 100, 'm.successRate >= 0 && m.successRate <= 100')
    const s = (await call('GET', '/v1/status')).json
    assert.equal(s.id, cluster.nodes[0].id)
    assert.ok(s.raft.term >= 1, 's.raft.term >= 1')
  })

  it('streams lifecycle events as named SSE events', async () => {
    const client = cluster.clients[0]
    const seen: ClientEvent[] = []
    const ctrl = new AbortController()
    const stream = client.streamEvents(e => seen.push(e), { signal: ctrl.signal })
    // The stream attaches asynchronously: submit until the submit event of one of ours shows up, and
    // follow that task (its events may arrive after the POST answered, so remember every id).
    const mine = new Set<string>()
    const first = await eventually(async () => {
      mine.add(await client.submitTask({ task_type: 'echo', payload: { sse: true } }))
      const e = seen.find(e => e.event === 'submit' && mine.has(e.data.taskId as string))
      return e === undefined ? false : e
    }, { timeoutMs: 10_000, intervalMs: 200 })
    const id = first.data.taskId as string
    await eventually(() => seen.some(e => e.event === 'complete' && e.data.taskId === id), { timeoutMs: 15_000 })
    ctrl.abort()
    await stream
    const kinds = seen.filter(e => e.data.taskId === id).map(e => e.event)
    // 'start' is only committed for tasks that run longer than a moment (the worker skips it for fast ones)
    for (const k of ['submit', 'schedule', 'complete']) assert.ok(kinds.includes(k), `${k} in ${kinds.join(',')}`)
    assert.ok(kinds.indexOf('submit') < kinds.indexOf('complete'), 'kinds.indexOf(\'submit\') < kinds.indexOf(\'complete\')')
    const complete = seen.find(e => e.event === 'complete' && e.data.taskId === id)!
    assert.equal(typeof complete.data.deviceId, 'string')
    assert.equal(typeof complete.data.at, 'number')
    assert.equal(complete.data.attempt, 1)
  })

  it('?kinds= keeps only the kinds named; an unknown kind is a 400', async () => {
    assert.equal((await call('GET', '/v1/events?kinds=complete,bogus')).status, 400)
    assert.equal((await call('GET', '/v1/events?kinds=complete,bogus')).json.error.field, 'kinds')
    const client = cluster.clients[0]
    const res = await client.openStream('/v1/events?kinds=complete')
    let text = ''
    res.setEncoding('utf8')
    res.on('data', (c: string) => { text += c })
    await eventually(() => text.includes(': connected'), { timeoutMs: 5000 })
    const ids = new Set<string>()
    for (let i = 0; i < 5; i++) ids.add(await client.submitTask({ task_type: 'echo', payload: { kinds: i } }))
    await eventually(() => [...ids].every(id => text.includes(`"taskId":"${id}"`)), { timeoutMs: 15_000 })
    res.destroy()
    const kinds = [...text.matchAll(/^event: (\w+)$/gm)].map(m => m[1])
    assert.ok(kinds.length >= 5, `${kinds.length} events`)
    assert.deepEqual(new Set(kinds), new Set(['complete']))
  })

  it('gives the outcomes of many tasks over one result stream (ApiClient.openResults)', async () => {
    const client = cluster.clients[0]
    const results = await client.openResults({ fallbackMs: 60_000 })
    try {
      const ids = await Promise.all(Array.from({ length: 40 }, async (_, i) => await client.submitTask({ task_type: 'echo', payload: { i } })))
      const outcomes = await Promise.all(ids.map(async id => await results.wait(id, 30_000)))
      outcomes.forEach((o, i) => {
        assert.equal(o.status, 'completed')
        assert.equal(o.taskId, ids[i])
        assert.deepEqual(o.result, { i })
        assert.equal(o.attempt, 1)
      })
      // an outcome that came before its wait is kept for it
      const early = await client.submitTask({ task_type: 'echo', payload: { early: true } })
      await client.waitTask(early)
      assert.deepEqual((await results.wait(early, 1000)).result, { early: true })
      // a final error is an outcome too
      const long = await client.submitTask({ task_type: 'sleep', payload: { duration: 30 } })
      const waited = results.wait(long, 30_000)
      await client.cancelTask(long)
      const o = await waited
      assert.equal(o.status, 'cancelled')
      assert.equal(o.taskId, long)
      assert.equal(typeof o.error?.message, 'string')
    } finally {
      results.close()
    }
    await assert.rejects(results.wait('anything'), /closed/)
  })

  it('a result stream that misses an outcome gets it by long-poll', async () => {
    const client = cluster.clients[0]
    // keep nothing: an outcome that arrives before its wait is lost to the stream
    const results = await client.openResults({ keep: 0, fallbackMs: 300 })
    try {
      const id = await client.submitTask({ task_type: 'echo', payload: { missed: true } })
      await client.waitTask(id)
      await new Promise(resolve => setTimeout(resolve, 300)) // its event has come through the stream, and was not kept
      const t0 = Date.now()
      const o = await results.wait(id, 10_000)
      assert.equal(o.status, 'completed')
      assert.deepEqual(o.result, { missed: true })
      assert.ok(Date.now() - t0 >= 250, 'answered by the fallback, after fallbackMs')
    } finally {
      results.close()
    }
  })

  it('takes many submissions on one stream (POST /v1/tasks/stream): each line its own answer, a bad line refused alone', async () => {
    const before = await countTasks()
    const lines = [
      JSON.stringify({ n: 1, task: { task_type: 'echo', payload: { s: 1 } } }),
      'this is not json',
      JSON.stringify({ task: { task_type: 'echo' } }), // no n
      JSON.stringify({ n: 4, task: { payload: {} } }), // no task type
      JSON.stringify({ n: 5, task: { task_type: 'echo', priority: 'soon' } }),
      JSON.stringify({ n: 6, task: { task_type: 'echo', payload: { s: 6 }, idempotency_key: 'stream-key-6' } }),
      JSON.stringify({ n: 7, task: { task_type: 'echo', payload: { s: 6 }, idempotency_key: 'stream-key-6' } }) // the same key: the same task
    ]
    const res = await fetch(url + '/v1/tasks/stream', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' }, body: lines.join('\n') + '\n' })
    assert.equal(res.status, 200)
    const answers = (await res.text()).trim().split('\n').map(l => JSON.parse(l))
    assert.equal(answers.length, 7)
    const byN = new Map(answers.filter(a => a.n !== undefined).map(a => [a.n, a]))
    assert.equal(typeof byN.get(1).id, 'string')
    assert.equal(byN.get(4).status, 400)
    assert.equal(byN.get(4).error.field, 'task.taskType')
    assert.equal(byN.get(5).status, 400)
    assert.equal(byN.get(6).id, byN.get(7).id)
    const unnumbered = answers.filter(a => a.n === undefined)
    assert.equal(unnumbered.length, 2)
    for (const a of unnumbered) { assert.equal(a.status, 400); assert.equal(a.error.type, 'invalid_payload') }
    assert.equal(await countTasks(), before + 2, 'the refused lines changed nothing')
    // a line longer than any request body may be: 413 without a number, skipped; the good line after it is taken
    const long = await fetch(url + '/v1/tasks/stream', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: 'x'.repeat(4 * 1024 * 1024 + 10) + '\n' + lines[0] + '\n' })
    const longAnswers = (await long.text()).trim().split('\n').map(l => JSON.parse(l))
    assert.deepEqual(longAnswers.map(a => [a.status, a.error?.type]), [[413, 'payload_too_large'], [undefined, undefined]])
    assert.equal(longAnswers[1].n, 1)
    assert.equal(typeof longAnswers[1].id, 'string')
    // the same when the long line's end comes later: what is past the cap is dropped as it comes, not kept
    const { req, res: slow } = await cluster.clients[0].openUpload('/v1/tasks/stream', 'application/x-ndjson')
    let slowText = ''
    slow.setEncoding('utf8')
    slow.on('data', (c: string) => { slowText += c })
    req.write('x'.repeat(4 * 1024 * 1024 + 10))
    await eventually(() => slowText.includes('payload_too_large'), { timeoutMs: 10_000 })
    req.write('x'.repeat(100_000))
    req.end('\n' + JSON.stringify({ n: 9, task: { task_type: 'echo', payload: { after: 'long' } } }) + '\n')
    await new Promise(resolve => slow.on('end', resolve))
    const slowAnswers = slowText.trim().split('\n').map(l => JSON.parse(l))
    assert.deepEqual(slowAnswers.map(a => [a.n, a.status, a.error?.type, typeof a.id]), [[undefined, 413, 'payload_too_large', 'undefined'], [9, undefined, undefined, 'string']])
    const wrong = await fetch(url + '/v1/tasks/stream', { method: 'POST', headers: { authorization: 'Bearer wrong-token-0123456789' }, body: lines[0] + '\n' })
    assert.equal(wrong.status, 401)
    assert.equal(await countTasks(), before + 4)
  })

  it('ApiClient.openSubmissions: many tasks in flight on one connection, outcomes over one result stream', async () => {
    const client = cluster.clients[0]
    const results = await client.openResults()
    const submissions = await client.openSubmissions()
    try {
      const ids = await Promise.all(Array.from({ length: 60 }, async (_, i) => await submissions.submit({ task_type: 'echo', payload: { one: i } })))
      assert.equal(new Set(ids).size, 60)
      const outcomes = await Promise.all(ids.map(async id => await results.wait(id, 30_000)))
      outcomes.forEach((o, i) => { assert.equal(o.status, 'completed'); assert.deepEqual(o.result, { one: i }) })
      await assert.rejects(submissions.submit({ payload: {} }), (err: ApiClientError) => err.status === 400 && err.field === 'task.taskType')
      assert.equal(submissions.inFlight, 0)
    } finally {
      await submissions.close()
      results.close()
    }
    await assert.rejects(submissions.submit({ task_type: 'echo' }), /closed/)
  })

  it('serves the dashboard and /metrics on loopback without a token, and the API only with one', async () => {
    const page = await fetch(url + '/')
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type')!, /text\/html/)
    assert.match(await page.text(), /Retire-Cluster/)
    assert.equal((await fetch(url + '/app.js')).status, 200)
    assert.equal((await fetch(url + '/metrics')).status, 200)
    await assert.rejects(async () => await new (cluster.clients[0].constructor as any)({ url, token: 'x'.repeat(20) }).nodes(),
      (err: unknown) => err instanceof ApiClientError && err.status === 401)
  })
})
