// Many submissions on one connection (POST /v1/tasks/stream, src/node/api/task-stream.ts): each
// submit() is one task with its own answer, as POST /v1/tasks gives, but without an HTTP request
// and response per task — what a Redis, AMQP or NATS client does over its one connection. The
// submits of one turn go out in one write.
//
//   const submissions = await client.openSubmissions()
//   const results = await client.openResults()
//   const ids = await Promise.all(specs.map(spec => submissions.submit(spec)))
//   const outcomes = await Promise.all(ids.map(id => results.wait(id)))
//   await submissions.close()
//
// A submit whose answer never came (the connection dropped) rejects with status 0 `unreachable`:
// the task may or may not have been taken, as with a request whose answer was lost; submit with an
// idempotency key to make a retry safe.

import type { ClientRequest, IncomingMessage } from 'node:http'
import { ApiClientError } from './client.js'
import type { ApiClient } from './client.js'
import { MAX_BODY_BYTES, MAX_STREAM_INFLIGHT } from './limits.js'
import { cutRecords } from './records.js'

interface Pending { resolve: (id: string) => void, reject: (e: Error) => void, deadline: number }
interface Queued { n: number, line: string, timeoutMs: number, resolve: (id: string) => void, reject: (e: Error) => void }

/** how often waiting submits are checked against their deadline */
const SWEEP_MS = 500

export class SubmitStream {
  /** sent, not answered yet: at most MAX_STREAM_INFLIGHT, what the node reads at once */
  private readonly pending = new Map<number, Pending>()
  /** not sent yet: a submit's time starts when its line goes, not while it waits here */
  private queued: Queued[] = []
  private queuedHead = 0
  private ending = false
  private next = 1
  private out = ''
  private flushQueued = false
  private buf = ''
  private closed = false
  private failure?: Error
  private readonly done: Promise<void>
  private sweeper?: NodeJS.Timeout

  private constructor (private readonly req: ClientRequest, private readonly res: IncomingMessage, private readonly timeoutMs: number) {
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => { this.feed(chunk) })
    this.done = new Promise(resolve => {
      const ended = (err?: Error): void => {
        this.fail(err ?? new ApiClientError(0, 'unreachable', 'the submission stream closed before the node answered (the task may or may not have been taken; an idempotency key makes a retry safe)'))
        resolve()
      }
      res.on('end', () => { ended() })
      res.on('close', () => { ended() })
      res.on('error', err => { ended(new ApiClientError(0, 'unreachable', `the submission stream failed: ${err.message}`)) })
      req.on('error', err => { ended(new ApiClientError(0, 'unreachable', `the submission stream failed: ${err.message}`)) })
    })
  }

  static async open (client: ApiClient, opts: { timeoutMs?: number } = {}): Promise<SubmitStream> {
    const { req, res } = await client.openUpload('/v1/tasks/stream', 'application/x-ndjson')
    return new SubmitStream(req, res, opts.timeoutMs ?? client.timeoutMs)
  }

  /**
   * Submits one task (a spec as POST /v1/tasks takes it); its id once the node has it on a
   * majority's disk. Without an answer within `timeoutMs` (default: the client's request timeout)
   * it fails with status 0 `unreachable`, as a request that timed out: the task may or may not have been taken.
   */
  submit (spec: Record<string, unknown>, opts: { idempotencyKey?: string, timeoutMs?: number } = {}): Promise<string> {
    if (this.closed) return Promise.reject(new Error('the submission stream is closed'))
    if (this.failure !== undefined) return Promise.reject(this.failure)
    const n = this.next++
    const task = opts.idempotencyKey === undefined ? spec : { ...spec, idempotency_key: opts.idempotencyKey }
    const json = JSON.stringify({ n, task })
    // the node answers a line over its cap without the line's number: refuse it here, where it is
    // known, by the node's measure (the line without its newline, task-stream.ts)
    if (json.length > MAX_BODY_BYTES) return Promise.reject(new ApiClientError(413, 'payload_too_large', `the task is over ${MAX_BODY_BYTES} bytes`))
    const line = json + '\n'
    return new Promise((resolve, reject) => {
      this.queued.push({ n, line, timeoutMs: opts.timeoutMs ?? this.timeoutMs, resolve, reject })
      this.sendQueued()
    })
  }

  /** submissions not answered yet (sent, or waiting for one of the node's MAX_STREAM_INFLIGHT places) */
  get inFlight (): number { return this.pending.size + this.queued.length - this.queuedHead }

  /** lines into the next write while the node has room for them; the stream ends after the last, once closed */
  private sendQueued (): void {
    const now = Date.now()
    while (this.queuedHead < this.queued.length && this.pending.size < MAX_STREAM_INFLIGHT) {
      const q = this.queued[this.queuedHead++]!
      this.pending.set(q.n, { resolve: q.resolve, reject: q.reject, deadline: now + q.timeoutMs })
      this.out += q.line
    }
    if (this.queuedHead === this.queued.length) { this.queued = []; this.queuedHead = 0 } else if (this.queuedHead > 4096) { this.queued = this.queued.slice(this.queuedHead); this.queuedHead = 0 }
    if (this.pending.size > 0) this.sweeper ??= setInterval(() => { this.sweep() }, SWEEP_MS)
    if (this.out !== '' && !this.flushQueued) {
      this.flushQueued = true
      setImmediate(() => { this.flush() })
    }
    if (this.ending && this.queued.length === 0 && this.out === '' && !this.flushQueued) this.req.end()
  }

  /** Ends the stream once what was submitted is sent; resolves when the node has answered all of it. */
  async close (): Promise<void> {
    if (!this.closed) {
      this.closed = true
      this.ending = true
      this.flush()
      this.sendQueued() // ends the request once nothing is left to send
    }
    await this.done
  }

  /** Drops the connection at once: what waits fails with status 0 (taken or not, unknown). */
  destroy (): void {
    this.closed = true
    this.req.destroy()
    this.res.destroy()
    this.fail(new ApiClientError(0, 'unreachable', 'the submission stream was dropped before the node answered (the task may or may not have been taken)'))
  }

  private flush (): void {
    this.flushQueued = false
    if (this.out === '' || this.failure !== undefined) return
    this.req.write(this.out)
    this.out = ''
    if (this.ending && this.queued.length === 0) this.req.end()
  }

  private feed (chunk: string): void {
    const { records, rest } = cutRecords(this.buf + chunk, '\n')
    this.buf = rest
    for (const text of records) {
      if (text === '') continue
      let a: { n?: number, id?: string, status?: number, error?: { type?: string, message?: string, field?: string } }
      try {
        a = JSON.parse(text)
      } catch {
        // not our node's answer (a proxy's page, a cut stream): nothing on it can be trusted
        this.destroy()
        return
      }
      this.onAnswer(a)
    }
  }

  private onAnswer (a: { n?: number, id?: string, status?: number, error?: { type?: string, message?: string, field?: string } }): void {
    const p = a.n === undefined ? undefined : this.pending.get(a.n)
    if (p === undefined) {
      // A numbered answer for no pending submit is a late one (its submit timed out): ignored. An
      // unnumbered refusal is for a line the node could not read, which only a broken client writes.
      if (a.n === undefined && a.error !== undefined) this.fail(new ApiClientError(a.status ?? 0, a.error.type ?? 'invalid_payload', a.error.message ?? 'the node refused a line of the stream', a.error.field))
      return
    }
    this.pending.delete(a.n!)
    if (this.pending.size === 0) this.stopSweeping()
    this.sendQueued()
    if (typeof a.id === 'string') p.resolve(a.id)
    else p.reject(new ApiClientError(a.status ?? 0, a.error?.type ?? `http_${a.status ?? 0}`, a.error?.message ?? 'refused', a.error?.field))
  }

  /** everything still waiting fails with `err`; later submits too */
  private fail (err: Error): void {
    this.failure ??= err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
    for (let i = this.queuedHead; i < this.queued.length; i++) this.queued[i]!.reject(err)
    this.queued = []
    this.queuedHead = 0
    this.stopSweeping()
  }

  /** submits past their deadline fail (a node that stopped answering: SIGSTOP, a cut link) */
  private sweep (): void {
    const now = Date.now()
    for (const [n, p] of this.pending) {
      if (now < p.deadline) continue
      this.pending.delete(n)
      p.reject(new ApiClientError(0, 'unreachable', 'the node did not answer the submission in time (the task may or may not have been taken; an idempotency key makes a retry safe)'))
    }
    if (this.pending.size === 0) this.stopSweeping()
    this.sendQueued()
  }

  private stopSweeping (): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper)
    this.sweeper = undefined
  }
}
