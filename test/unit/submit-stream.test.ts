// ApiClient.openSubmissions against a scripted HTTP server (a real socket; the answers chosen by the
// test): answers out of order reach the right submit, the submits of one turn leave in one write, a
// dropped connection fails what waits (status 0), a late or unreadable answer, a task at and over the
// body cap, and opening on a node that never answers (both streams: the client's timeoutMs).

import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ApiClient, ApiClientError } from '../../src/node/api/client.js'
import { MAX_BODY_BYTES, MAX_STREAM_INFLIGHT } from '../../src/node/api/limits.js'

interface Scripted { server: Server, client: ApiClient, lines: Array<{ n: number, task: any }>, chunks: number, res?: ServerResponse, req?: IncomingMessage }

async function scripted (): Promise<Scripted> {
  const s: Scripted = { server: undefined as unknown as Server, client: undefined as unknown as ApiClient, lines: [], chunks: 0 }
  s.server = createServer((req, res) => {
    if (req.url !== '/v1/tasks/stream' || req.method !== 'POST') { res.writeHead(404).end(); return }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    res.flushHeaders()
    s.res = res
    s.req = req
    let buf = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => {
      s.chunks++
      buf += c
      let cut: number
      while ((cut = buf.indexOf('\n')) >= 0) { s.lines.push(JSON.parse(buf.slice(0, cut))); buf = buf.slice(cut + 1) }
    })
    req.on('end', () => { res.end() })
  })
  await new Promise<void>(resolve => s.server.listen(0, '127.0.0.1', resolve))
  s.client = new ApiClient({ url: `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`, token: 'tok-tok-tok-tok-tok' })
  return s
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise(resolve => setTimeout(resolve, 10))
  assert.ok(cond(), 'condition not reached in 2 s')
}

describe('opening a stream on a node that does not answer', () => {
  it('openSubmissions and openResults fail as unreachable after the client\'s timeoutMs instead of hanging', async () => {
    const held: ServerResponse[] = []
    const server = createServer((_req, res) => { held.push(res) }) // takes the request, never answers
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const client = new ApiClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 'tok-tok-tok-tok-tok', timeoutMs: 300 })
    try {
      for (const open of [async () => await client.openSubmissions(), async () => await client.openResults()]) {
        const t0 = Date.now()
        await assert.rejects(open(), (e: ApiClientError) => e.status === 0 && e.type === 'unreachable' && /ETIMEDOUT/.test(e.message))
        assert.ok(Date.now() - t0 >= 290 && Date.now() - t0 < 3000, `${Date.now() - t0} ms`)
      }
    } finally {
      client.close()
      for (const r of held) r.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  })
})

describe('SubmitStream (ApiClient.openSubmissions)', () => {
  let s: Scripted
  beforeEach(async () => { s = await scripted() })
  afterEach(async () => {
    s.client.close()
    s.res?.destroy()
    await new Promise(resolve => s.server.close(resolve))
  })

  it('sends the submits of one turn in one write and matches answers by number, in any order', async () => {
    const sub = await s.client.openSubmissions()
    const p = Array.from({ length: 20 }, async (_, i) => await sub.submit({ task_type: 'echo', payload: { i } }, i === 3 ? { idempotencyKey: 'k3' } : {}))
    await until(() => s.lines.length === 20)
    assert.equal(s.chunks, 1, 'one write for the turn')
    assert.deepEqual(s.lines.map(l => l.task.payload.i), Array.from({ length: 20 }, (_, i) => i))
    assert.equal(s.lines[3]!.task.idempotency_key, 'k3')
    assert.equal(sub.inFlight, 20)
    // answers backwards, one refused
    const out = [...s.lines].reverse().map(l => l.task.payload.i === 5 ? { n: l.n, status: 403, error: { type: 'permission_denied', message: 'not yours', field: 'task_type' } } : { n: l.n, id: `id-${l.task.payload.i as number}` })
    s.res!.write(out.map(o => JSON.stringify(o)).join('\n') + '\n')
    const settled = await Promise.allSettled(p)
    settled.forEach((r, i) => {
      if (i === 5) {
        assert.equal(r.status, 'rejected')
        const e = (r as PromiseRejectedResult).reason as ApiClientError
        assert.equal(e.status, 403); assert.equal(e.type, 'permission_denied'); assert.equal(e.field, 'task_type')
      } else assert.deepEqual(r, { status: 'fulfilled', value: `id-${i}` })
    })
    assert.equal(sub.inFlight, 0)
    await sub.close()
  })

  it('a dropped connection fails what waits with status 0, and every later submit', async () => {
    const sub = await s.client.openSubmissions()
    const p = [sub.submit({ task_type: 'echo' }), sub.submit({ task_type: 'echo' })]
    await until(() => s.lines.length === 2)
    s.res!.destroy()
    for (const r of await Promise.allSettled(p)) {
      assert.equal(r.status, 'rejected')
      assert.equal(((r as PromiseRejectedResult).reason as ApiClientError).status, 0)
      assert.equal(((r as PromiseRejectedResult).reason as ApiClientError).type, 'unreachable')
    }
    await assert.rejects(sub.submit({ task_type: 'echo' }), (e: ApiClientError) => e.type === 'unreachable')
  })

  it('a submit the node does not answer in time fails as unreachable; a late answer is ignored, the stream goes on', async () => {
    const sub = await s.client.openSubmissions({ timeoutMs: 300 })
    const t0 = Date.now()
    await assert.rejects(sub.submit({ task_type: 'echo', payload: 'slow' }), (e: ApiClientError) => e.status === 0 && e.type === 'unreachable' && /in time/.test(e.message))
    assert.ok(Date.now() - t0 >= 290, 'not before its deadline')
    // a late refusal of that line names its number: it fails nothing else
    s.res!.write(JSON.stringify({ n: s.lines[0]!.n, status: 503, error: { type: 'unavailable', message: 'too late' } }) + '\n')
    const next = sub.submit({ task_type: 'echo', payload: 'next' })
    await until(() => s.lines.length === 2)
    s.res!.write(JSON.stringify({ n: s.lines[1]!.n, id: 'next-id' }) + '\n')
    assert.equal(await next, 'next-id')
    await sub.close()
  })

  it('an answer that is not JSON drops the stream (no exception in the program): what waits fails as unreachable', async () => {
    const sub = await s.client.openSubmissions()
    const p = sub.submit({ task_type: 'echo', payload: 1 })
    await until(() => s.lines.length === 1)
    s.res!.write('<html>not an answer</html>\n')
    await assert.rejects(p, (e: ApiClientError) => e.status === 0 && e.type === 'unreachable')
    await assert.rejects(sub.submit({ task_type: 'echo', payload: 2 }))
  })

  it('sends at most MAX_STREAM_INFLIGHT lines unanswered; a queued submit\'s time starts when its line goes', async () => {
    const sub = await s.client.openSubmissions({ timeoutMs: 400 })
    const first = Array.from({ length: MAX_STREAM_INFLIGHT }, async (_, i) => await sub.submit({ task_type: 'echo', payload: i }).catch((e: ApiClientError) => e.type))
    const later = Array.from({ length: 10 }, async (_, i) => await sub.submit({ task_type: 'echo', payload: `later ${i}` }))
    await until(() => s.lines.length === MAX_STREAM_INFLIGHT)
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.equal(s.lines.length, MAX_STREAM_INFLIGHT, 'nothing more sent while the node holds that many')
    assert.equal(sub.inFlight, MAX_STREAM_INFLIGHT + 10)
    // the first ones time out unanswered; only then do the queued lines go, each with its own time
    assert.deepEqual(new Set(await Promise.all(first)), new Set(['unreachable']))
    await until(() => s.lines.length === MAX_STREAM_INFLIGHT + 10)
    s.res!.write(s.lines.slice(MAX_STREAM_INFLIGHT).map(l => JSON.stringify({ n: l.n, id: `id-${String(l.task.payload)}` })).join('\n') + '\n')
    assert.deepEqual(await Promise.all(later), Array.from({ length: 10 }, (_, i) => `id-later ${i}`))
    await sub.close()
  })

  it('sends a line of exactly the body cap (the node takes it: its cap counts the line without its newline)', async () => {
    const sub = await s.client.openSubmissions()
    const fill = MAX_BODY_BYTES - JSON.stringify({ n: 1, task: { task_type: 'echo', payload: '' } }).length
    const at = sub.submit({ task_type: 'echo', payload: 'x'.repeat(fill) })
    await until(() => s.lines.length === 1)
    assert.equal(JSON.stringify(s.lines[0]).length, MAX_BODY_BYTES)
    s.res!.write(JSON.stringify({ n: 1, id: 'at-cap' }) + '\n')
    assert.equal(await at, 'at-cap')
    // one byte more (n: 2, as long as n: 1) is refused here, as the node would
    await assert.rejects(sub.submit({ task_type: 'echo', payload: 'x'.repeat(fill + 1) }), (e: ApiClientError) => e.status === 413)
    await sub.close()
  })

  it('refuses a task over the body cap without sending it; the stream goes on', async () => {
    const sub = await s.client.openSubmissions()
    await assert.rejects(sub.submit({ task_type: 'echo', payload: { big: 'x'.repeat(MAX_BODY_BYTES) } }), (e: ApiClientError) => e.status === 413)
    const ok = sub.submit({ task_type: 'echo', payload: 'small' })
    await until(() => s.lines.length === 1)
    assert.equal(s.lines[0]!.task.payload, 'small')
    s.res!.write(JSON.stringify({ n: s.lines[0]!.n, id: 'small-id' }) + '\n')
    assert.equal(await ok, 'small-id')
    await sub.close()
  })
})
