// The POST /v1/tasks/stream route on its own, with a request and a response of the test's making:
// when the client stops reading answers the route stops reading lines, and once the client reads
// again it reads the rest (it used to resume only when a new answer was written — with none in
// flight, never: the client's remaining lines waited until it gave up).

import assert from 'node:assert/strict'
import { PassThrough, Writable } from 'node:stream'
import { streamSubmissions } from '../../src/node/api/task-stream.js'
import { MAX_STREAM_BACKLOG_BYTES } from '../../src/node/api/limits.js'
import type { RouteContext } from '../../src/node/api/router.js'

const turn = async (): Promise<void> => { await new Promise<void>(resolve => { setImmediate(resolve) }) }

describe('POST /v1/tasks/stream route', () => {
  it('stops reading while its answers are not read, and reads the rest once they are', async function () {
    this.timeout(10_000)
    const ID_CHARS = 1000 // long ids: the answers pass MAX_STREAM_BACKLOG_BYTES after ~1,000 lines
    const LINES = Math.ceil(3 * MAX_STREAM_BACKLOG_BYTES / ID_CHARS)
    let submitted = 0
    const node = { scheduler: { submitTask: async () => { submitted++; return String(submitted).padStart(ID_CHARS, '0') } } }
    const req = new PassThrough()
    // the client's socket: writes are held (not read) until `reading`
    let reading = false
    const held: Array<() => void> = []
    let answers = ''
    const res = new Writable({
      highWaterMark: 16 * 1024,
      write (chunk: Buffer, _enc, cb) { answers += chunk.toString(); if (reading) cb(); else held.push(cb) }
    }) as Writable & { writeHead: () => unknown, flushHeaders: () => void }
    res.writeHead = () => res
    res.flushHeaders = () => {}
    const done = streamSubmissions({ node, req, res, params: {}, query: new URLSearchParams() } as unknown as RouteContext)

    for (let i = 0; i < LINES; i += 50) {
      let chunk = ''
      for (let n = i; n < Math.min(LINES, i + 50); n++) chunk += JSON.stringify({ n, task: { task_type: 'echo', payload: { n } } }) + '\n'
      req.write(chunk)
      await turn()
    }
    req.end()
    for (let i = 0; i < 20; i++) await turn()
    assert.ok(req.isPaused(), 'reading stopped while the answers were not read')
    assert.ok(submitted < LINES, `only part of the lines taken before the client read (${submitted} of ${LINES})`)

    reading = true
    for (const cb of held.splice(0)) cb()
    const ended = await Promise.race([done.then(() => true), new Promise<false>(resolve => { setTimeout(() => { resolve(false) }, 3000) })])
    assert.equal(ended, true, `the stream ended (${submitted} of ${LINES} lines taken)`)
    assert.equal(submitted, LINES)
    const got = answers.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as { n: number, id: string })
    assert.equal(got.length, LINES)
    assert.deepEqual(new Set(got.map(a => a.n)).size, LINES)
  })
})
