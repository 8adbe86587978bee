// POST /v1/tasks/stream: many submissions on one connection, one task per line. A program that
// submits tasks one at a time with many in flight — what a Redis, AMQP or NATS client does over its
// one connection — pays Node's HTTP request and response once per stream instead of once per task.
// Each line is its own submission (validated, proposed and answered on its own, as POST /v1/tasks
// does); what the node groups into one log entry is up to its group commit, as for any requests.
//
//   request body, NDJSON:  {"n":1,"task":{"task_type":"echo","payload":{"i":1}}}\n ...
//   answers, NDJSON:       {"n":1,"id":"01J..."}\n  or  {"n":2,"status":400,"error":{type,message,field?}}\n
//
// Answers come as submissions finish, not in order: `n` (the client's number for the line) says
// which. A line that is not JSON or has no integer `n` is answered without `n` and changes nothing;
// so is a line over the body cap (413; not kept in memory past the cap); the stream goes on. The
// node stops reading while MAX_STREAM_INFLIGHT submissions wait or its answers are not being read
// (MAX_STREAM_BACKLOG_BYTES), checked after each chunk it reads (so at most one chunk's lines, one
// socket read of ≤ 64 KiB, beyond the cap), and answers the lines of one turn in one write.

import type { RouteContext } from './router.js'
import { toErrorResponse, PayloadTooLargeError, InvalidRequestError } from './errors.js'
import { checkTaskSpec, takeIdempotencyKey } from './validate.js'
import { MAX_BODY_BYTES, MAX_STREAM_BACKLOG_BYTES, MAX_STREAM_INFLIGHT } from './limits.js'
import { cutRecords } from './records.js'

export async function streamSubmissions (ctx: RouteContext): Promise<void> {
  const { req, res, node, principal } = ctx
  res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' })
  res.flushHeaders()
  let inflight = 0
  let ended = false
  let out = ''
  let flushQueued = false
  let buf = ''
  /** inside a line over the cap, not kept */
  let skipping = false

  await new Promise<void>(resolve => {
    const finish = (): void => { resolve() }
    const maybeEnd = (): void => {
      if (ended && inflight === 0 && out === '' && !res.writableEnded) { res.end(); finish() }
    }
    const flush = (): void => {
      flushQueued = false
      if (out !== '' && !res.destroyed) res.write(out)
      out = ''
      if (req.isPaused() && !busy()) req.resume()
      maybeEnd()
    }
    const answer = (a: Record<string, unknown>): void => {
      out += JSON.stringify(a) + '\n'
      if (!flushQueued) { flushQueued = true; setImmediate(flush) }
    }
    const busy = (): boolean => inflight >= MAX_STREAM_INFLIGHT || res.writableLength > MAX_STREAM_BACKLOG_BYTES
    const refuse = (n: number | undefined, err: unknown): void => {
      const { status, body } = toErrorResponse(err)
      answer(n === undefined ? { status, ...body } : { n, status, ...body })
    }
    const line = (text: string): void => {
      let msg: unknown
      try { msg = JSON.parse(text) } catch (err) {
        refuse(undefined, new InvalidRequestError(undefined, `a line is not valid JSON: ${(err as Error).message}`)); return
      }
      const o = msg as { n?: unknown, task?: unknown } | null
      if (o === null || typeof o !== 'object' || Array.isArray(o) || !Number.isSafeInteger(o.n)) {
        refuse(undefined, new InvalidRequestError('n', 'each line must be a JSON object {"n": <integer>, "task": {...}}')); return
      }
      const n = o.n as number
      const task = o.task
      try {
        checkTaskSpec(task, 'task.')
      } catch (err) { refuse(n, err); return }
      let key: string | undefined
      try { key = takeIdempotencyKey(task, undefined) } catch (err) { refuse(n, err); return }
      inflight++
      node.scheduler.submitTask(task, { idempotencyKey: key, principal }).then(
        id => { answer({ n, id }) },
        err => { refuse(n, err) }
      ).finally(() => { inflight-- })
    }
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      if (skipping) {
        // the rest of a line over the cap: dropped up to its end, then the stream goes on
        const end = chunk.indexOf('\n')
        if (end < 0) return
        skipping = false
        chunk = chunk.slice(end + 1)
      }
      const { records, rest } = cutRecords(buf + chunk, '\n')
      buf = rest
      for (const text of records) {
        if (text.length > MAX_BODY_BYTES) refuse(undefined, new PayloadTooLargeError(MAX_BODY_BYTES))
        else if (text.trim() !== '') line(text)
      }
      if (buf.length > MAX_BODY_BYTES) {
        refuse(undefined, new PayloadTooLargeError(MAX_BODY_BYTES))
        buf = ''
        skipping = true
      }
      if (busy()) req.pause()
    })
    req.on('end', () => {
      if (buf.trim() !== '') line(buf)
      buf = ''
      ended = true
      if (!flushQueued) maybeEnd()
    })
    // the client reads its answers again: read its lines again (a flush does that only when there
    // is a new answer to write — with none in flight, there would be none)
    res.on('drain', () => { if (req.isPaused() && !busy()) req.resume() })
    // the client went away: what is in flight still commits (or not), as for a request whose answer is lost
    res.on('close', finish)
    req.on('error', finish)
  })
}
