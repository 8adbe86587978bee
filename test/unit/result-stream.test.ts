// ApiClient.openResults against a scripted HTTP server (a real socket, the frames chosen by the
// test): failover clones are followed, retries are not outcomes, outcomes that come first are kept,
// frames split across reads parse, what is kept is bounded in count and bytes, and waits fall back
// to the long-poll when the stream drops (at most 64 at once, none after close).

import assert from 'node:assert/strict'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ApiClient } from '../../src/node/api/client.js'
import { parseSseFrame } from '../../src/node/api/records.js'

interface Scripted {
  server: Server
  client: ApiClient
  streams: ServerResponse[]
  records: Map<string, unknown>
  polls: string[]
  paths: string[]
  /** hold each long-poll until release() (or its timeoutMs), as a node does for a task not final */
  hold: boolean
  held: Array<{ id: string, res: ServerResponse, timer: NodeJS.Timeout }>
  release: () => void
}

async function scripted (): Promise<Scripted> {
  const s: Scripted = { server: undefined as unknown as Server, client: undefined as unknown as ApiClient, streams: [], records: new Map(), polls: [], paths: [], hold: false, held: [], release: () => {} }
  const answer = (id: string, res: ServerResponse): void => {
    const rec = s.records.get(id)
    if (rec === undefined) { res.writeHead(404).end('{"error":{"type":"not_found","message":"no such task"}}'); return }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(rec))
  }
  s.release = () => { for (const h of s.held.splice(0)) { clearTimeout(h.timer); answer(h.id, h.res) } }
  s.server = createServer((req, res) => {
    s.paths.push(req.url ?? '')
    if (req.headers.authorization !== 'Bearer t0k3n-for-the-test') { res.writeHead(401).end('{"error":{"type":"unauthorized","message":"no"}}'); return }
    if (req.url?.startsWith('/v1/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(': connected\n\n')
      s.streams.push(res)
      return
    }
    const m = /^\/v1\/tasks\/([^/]+)\/wait/.exec(req.url ?? '')
    if (m !== null) {
      const id = m[1]!
      s.polls.push(id)
      if (s.hold) {
        const h = { id, res, timer: setTimeout(() => { s.held.splice(s.held.indexOf(h), 1); answer(id, res) }, Number(new URL(req.url!, 'http://x').searchParams.get('timeoutMs'))) }
        s.held.push(h)
        return
      }
      answer(id, res)
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>(resolve => s.server.listen(0, '127.0.0.1', resolve))
  s.client = new ApiClient({ url: `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`, token: 't0k3n-for-the-test' })
  return s
}

const frame = (kind: string, data: Record<string, unknown>): string => `event: ${kind}\ndata: ${JSON.stringify(data)}\n\n`
const tick = async (ms = 30): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

describe('ResultStream (ApiClient.openResults)', () => {
  let s: Scripted
  beforeEach(async () => { s = await scripted() })
  afterEach(async () => {
    s.client.close()
    for (const r of s.streams) r.destroy()
    for (const h of s.held.splice(0)) { clearTimeout(h.timer); h.res.destroy() }
    await new Promise(resolve => s.server.close(resolve))
  })

  it('asks for the terminal kinds only, and follows a failover to the clone\'s outcome', async () => {
    const results = await s.client.openResults()
    assert.ok(s.paths.includes('/v1/events?kinds=complete,error,failover'), s.paths.join(' '))
    const w = results.wait('A')
    s.streams[0]!.write(frame('error', { taskId: 'A', attempt: 1, deviceId: 'd1', at: 1, final: false, status: 'failed', error: { type: 'device_failure', message: 'down' } }))
    s.streams[0]!.write(frame('failover', { taskId: 'A', cloneId: 'B', deviceId: 'd1', at: 1 }))
    await tick()
    s.streams[0]!.write(frame('complete', { taskId: 'B', attempt: 1, deviceId: 'd2', at: 2, result: { ok: 1 } }))
    const o = await w
    assert.deepEqual(o, { taskId: 'B', status: 'completed', result: { ok: 1 }, attempt: 1, deviceId: 'd2' })
    results.close()
  })

  it('keeps outcomes and failover links that come before their wait', async () => {
    const results = await s.client.openResults()
    s.streams[0]!.write(frame('failover', { taskId: 'A', cloneId: 'B', deviceId: 'd1', at: 1 }) + frame('failover', { taskId: 'B', cloneId: 'C', deviceId: 'd2', at: 2 }))
    // one frame split over two reads
    const f = frame('error', { taskId: 'C', attempt: 2, deviceId: 'd3', at: 3, final: true, status: 'timeout', error: { type: 'timeout', message: 'too slow' } })
    s.streams[0]!.write(f.slice(0, 17)); await tick(); s.streams[0]!.write(f.slice(17))
    await tick()
    const o = await results.wait('A', 1000)
    assert.equal(o.taskId, 'C')
    assert.equal(o.status, 'timeout')
    assert.equal(o.error?.message, 'too slow')
    assert.equal(s.polls.length, 0, 'no long-poll')
    results.close()
  })

  it('keeps no more than keepBytes of outcomes nobody waits for: the oldest go, their waits long-poll', async () => {
    const results = await s.client.openResults({ keepBytes: 2500, fallbackMs: 50 })
    const big = 'x'.repeat(1000)
    for (const id of ['K1', 'K2', 'K3']) s.streams[0]!.write(frame('complete', { taskId: id, attempt: 1, deviceId: 'd1', at: 1, result: big }))
    await tick()
    s.records.set('K1', { id: 'K1', status: 'completed', result: 'by poll', attempts: [{}] })
    assert.equal((await results.wait('K3', 1000)).result, big)
    assert.equal((await results.wait('K2', 1000)).result, big)
    assert.deepEqual(s.polls, [], 'K2 and K3 were kept')
    assert.equal((await results.wait('K1', 1000)).result, 'by poll')
    assert.deepEqual(s.polls, ['K1'], 'K1 was pushed out by the byte budget')
    results.close()
  })

  it('a retry is not an outcome: the wait goes on to the next attempt\'s', async () => {
    const results = await s.client.openResults()
    const w = results.wait('R')
    let done = false
    void w.then(() => { done = true })
    s.streams[0]!.write(frame('error', { taskId: 'R', attempt: 1, deviceId: 'd1', at: 1, final: false, status: 'failed', error: { type: 'execution_error', message: 'flaky' } }))
    await tick()
    assert.equal(done, false)
    s.streams[0]!.write(frame('complete', { taskId: 'R', attempt: 2, deviceId: 'd1', at: 2, result: 7 }))
    assert.equal((await w).attempt, 2)
    results.close()
  })

  it('when the stream drops, pending waits are answered by the long-poll', async () => {
    const results = await s.client.openResults({ fallbackMs: 60_000 })
    s.records.set('X', { id: 'X', status: 'completed', result: 'by poll', attempts: [{ attempt: 1 }], deviceId: 'd9' })
    const w = results.wait('X')
    await tick()
    s.streams[0]!.destroy()
    const o = await w
    assert.deepEqual(o, { taskId: 'X', status: 'completed', result: 'by poll', attempt: 1, deviceId: 'd9' })
    assert.deepEqual(s.polls, ['X'])
    assert.equal(results.connected, false)
    // a wait after the drop goes to the long-poll at once
    s.records.set('Y', { id: 'Y', status: 'failed', error: { type: 'execution_error', message: 'no' }, attempts: [{}, {}] })
    const y = await results.wait('Y')
    assert.equal(y.status, 'failed')
    assert.equal(y.attempt, 2)
    results.close()
  })

  it('a frame that is not JSON drops the stream (no exception in the program); waits long-poll', async () => {
    const results = await s.client.openResults({ fallbackMs: 60_000 })
    s.records.set('M', { id: 'M', status: 'completed', result: 'by poll', attempts: [{}] })
    const w = results.wait('M')
    s.streams[0]!.write('event: complete\ndata: {"taskId": "M", oops\n\n')
    assert.equal((await w).result, 'by poll')
    assert.equal(results.connected, false)
    results.close()
  })

  it('a wait for a task whose failover link came first, but not the clone\'s outcome, gets the clone\'s outcome from the stream', async () => {
    const results = await s.client.openResults({ fallbackMs: 60_000 })
    s.streams[0]!.write(frame('failover', { taskId: 'A', cloneId: 'B', deviceId: 'd1', at: 1 }) + frame('failover', { taskId: 'B', cloneId: 'C', deviceId: 'd2', at: 2 }))
    await tick()
    const w = results.wait('A')
    s.streams[0]!.write(frame('complete', { taskId: 'C', attempt: 1, deviceId: 'd3', at: 3, result: 'from C' }))
    const o = await Promise.race([w, tick(1000).then(() => 'not answered')])
    assert.equal((o as { result?: unknown }).result, 'from C')
    assert.deepEqual(s.polls, [], 'no long-poll')
    results.close()
  })

  it('a frame whose data is JSON but not an object drops the stream (no exception in the program); waits long-poll', async () => {
    const results = await s.client.openResults({ fallbackMs: 60_000 })
    s.records.set('N', { id: 'N', status: 'completed', result: 'by poll', attempts: [{}] })
    const w = results.wait('N')
    s.streams[0]!.write('event: complete\ndata: null\n\n')
    assert.equal((await w).result, 'by poll')
    assert.equal(results.connected, false)
    results.close()
    for (const data of ['null', '3', '"x"', '[1]']) assert.throws(() => parseSseFrame(`event: complete\ndata: ${data}`), /not a JSON object/)
  })

  it('close() stops the long-polling: no poll starts after it', async () => {
    s.hold = true
    const results = await s.client.openResults({ fallbackMs: 60_000 })
    s.records.set('P', { id: 'P', status: 'running', attempts: [{}] })
    s.streams[0]!.destroy()
    const w = results.wait('P', 60_000)
    await tick(100)
    assert.deepEqual(s.polls, ['P'])
    results.close()
    await assert.rejects(w, /closed/)
    s.release() // the poll in flight answers "still running"
    await tick(200)
    assert.deepEqual(s.polls, ['P'], 'no poll after close')
  })

  it('when the stream drops, at most 64 waits long-poll at once; the rest follow as polls end', async function () {
    this.timeout(10_000)
    s.hold = true
    const results = await s.client.openResults({ fallbackMs: 60_000 })
    const ids = Array.from({ length: 150 }, (_, i) => `T${i}`)
    for (const id of ids) s.records.set(id, { id, status: 'running', attempts: [{}] })
    const waits = ids.map(async id => await results.wait(id, 60_000))
    await tick()
    s.streams[0]!.destroy()
    await tick(300)
    assert.equal(s.held.length, 64, 'long-polls at once')
    // a wait queued behind them still ends at its time
    const t0 = Date.now()
    await assert.rejects(results.wait('Z', 200), /did not finish/)
    assert.ok(Date.now() - t0 < 1000)
    // the held ones answer "still running": they go to the back, the waits not polled yet get their turn
    s.release()
    await tick(300)
    assert.equal(s.held.length, 64)
    assert.equal(new Set(s.polls).size, 128)
    for (const id of ids) s.records.set(id, { id, status: 'completed', result: id, attempts: [{}] })
    s.hold = false
    s.release()
    const done = await Promise.all(waits)
    assert.deepEqual(done.map(o => o.result), ids)
    // T0-T63 twice, the others once
    assert.equal(s.polls.length, 150 + 64)
    results.close()
  })

  it('a wait whose time runs out rejects, and a wrong token fails the open', async () => {
    const results = await s.client.openResults({ fallbackMs: 50 })
    s.records.set('S', { id: 'S', status: 'running', attempts: [{}] })
    await assert.rejects(results.wait('S', 200), /did not finish/)
    results.close()
    const bad = new ApiClient({ url: s.client.url, token: 'wrong-token-wrong-token' })
    await assert.rejects(bad.openResults(), (err: Error & { status?: number }) => err.status === 401)
    bad.close()
  })
})
