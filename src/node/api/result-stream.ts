// The outcomes of many tasks over one event stream, as BullMQ's QueueEvents or a RabbitMQ reply
// queue give them: a program that submits tasks one per request and wants every result opens one
// stream (GET /v1/events?kinds=complete,error,failover) before it submits, then waits on it per
// task — instead of one long-poll per task, which doubled the requests the node and the program
// handle per task.
//
//   const results = await client.openResults()
//   const id = await client.submitTask({ task_type: 'echo', payload: { i } })
//   const outcome = await results.wait(id)        // { taskId, status: 'completed', result, ... }
//   results.close()
//
// A task can finish before its submission's answer reaches the program (the answer and the stream
// are two connections), so outcomes nobody waits for yet are kept: the newest `keep` of them, and
// no more than `keepBytes` of their frames — the stream carries every task's outcome in the cluster,
// with its result, not only this program's, so a count alone could hold gigabytes. A wait
// whose outcome has not come after `fallbackMs` — the stream dropped, or the outcome was pushed out
// of what is kept — asks the node with the usual long-poll, so no wait depends on the stream alone.
// At most MAX_POLLS long-polls run at once (the rest queue, in turn): when the stream drops, every
// pending wait needs one, and 10,000 waits must not open 10,000 connections to the node.

import type { IncomingMessage } from 'node:http'
import type { TaskErrorData, TaskStatus } from '../../sched/types.js'
import type { TaskRecord } from '../../sched/commands.js'
import type { ApiClient } from './client.js'
import { cutRecords, parseSseFrame } from './records.js'

export type FinalStatus = Extract<TaskStatus, 'completed' | 'failed' | 'cancelled' | 'timeout'>

/** How a task ended: for a task that failed over, the outcome of the clone that took it over (taskId is the clone's). */
export interface TaskOutcome {
  taskId: string
  status: FinalStatus
  result?: unknown
  error?: TaskErrorData
  attempt: number
  deviceId?: string
}

export interface ResultStreamOptions {
  /** outcomes kept for waits that have not come yet @default 100000 */
  keep?: number
  /** ...and at most this many bytes of them (their frames' size; the oldest go first) @default 64 MiB */
  keepBytes?: number
  /** a wait with no outcome after this long also long-polls the node @default 30000 */
  fallbackMs?: number
}

const FINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'timeout'])

/** long-polls running at once, for all the waits of one stream */
const MAX_POLLS = 64
/** longest one long-poll asks the node to hold (the node caps it too) */
const POLL_MS = 25_000

interface Waiter {
  end: number
  resolve: (o: TaskOutcome) => void
  reject: (e: Error) => void
  /** its one timer: the long-poll safety net, then its end (see arm) */
  timer?: NodeJS.Timeout
  done?: boolean
  /** queued for or in a long-poll: it long-polls until done */
  polling?: boolean
  /** a long-poll of it is in flight */
  asking?: boolean
}

export class ResultStream {
  /** outcomes (and failover links) not waited for yet, oldest first, with their frames' size */
  private readonly outcomes = new Map<string, { o: TaskOutcome | { cloneId: string }, bytes: number }>()
  private keptBytes = 0
  private readonly waiters = new Map<string, Waiter[]>()
  /** waits waiting for a long-poll slot, in turn */
  private readonly pollQueue: Array<{ id: string, w: Waiter }> = []
  private polls = 0
  private readonly keep: number
  private readonly keepBytes: number
  private readonly fallbackMs: number
  private res?: IncomingMessage
  private closed = false
  private buf = ''

  private constructor (private readonly client: ApiClient, opts: ResultStreamOptions) {
    this.keep = opts.keep ?? 100_000
    this.keepBytes = opts.keepBytes ?? 64 * 1024 * 1024
    this.fallbackMs = opts.fallbackMs ?? 30_000
  }

  /** Opens the stream; resolves once the node has subscribed it (tasks submitted after that are seen). */
  static async open (client: ApiClient, opts: ResultStreamOptions = {}): Promise<ResultStream> {
    const s = new ResultStream(client, opts)
    await s.connect()
    return s
  }

  /** the stream is up (false after it dropped or was closed: waits then go by long-poll) */
  get connected (): boolean { return this.res !== undefined && !this.closed }

  /** The outcome of task `id` (following failover clones); rejects after `timeoutMs` @default 10 minutes. */
  wait (id: string, timeoutMs = 10 * 60_000): Promise<TaskOutcome> {
    if (this.closed) return Promise.reject(new Error('the result stream is closed'))
    const known = this.follow(id)
    if (typeof known !== 'string') return Promise.resolve(known)
    return new Promise((resolve, reject) => {
      const settle = (): boolean => {
        if (w.done === true) return false
        w.done = true
        clearTimeout(w.timer)
        return true
      }
      const w: Waiter = {
        end: Date.now() + timeoutMs,
        resolve: o => { if (settle()) resolve(o) },
        reject: e => { if (settle()) reject(e) }
      }
      // filed under the last clone known: the failover links to it may have come already
      this.addWaiter(known, w)
      this.arm(id, w, this.connected ? this.fallbackMs : 0)
    })
  }

  /**
   * One timer a wait (a client with thousands of waits in flight armed two each): first the safety
   * net, a long-poll once the stream has said nothing of this task for `pollInMs` (unless the wait
   * ends first), then the wait's end. A long-poll in flight ends by the wait's end itself; one
   * still queued must not hold the wait past it.
   */
  private arm (id: string, w: Waiter, pollInMs?: number): void {
    const left = w.end - Date.now()
    if (pollInMs !== undefined && pollInMs < left) {
      w.timer = setTimeout(() => { this.poll(id, w); if (w.done !== true) this.arm(id, w) }, pollInMs)
      return
    }
    w.timer = setTimeout(() => { if (w.asking !== true) this.timedOut(id, w) }, Math.max(0, left))
  }

  /** long-poll the node for a wait the stream has not answered, until it ends or its time is up */
  private poll (id: string, w: Waiter): void {
    if (this.closed || w.done === true || w.polling === true) return
    w.polling = true
    this.pollQueue.push({ id, w })
    this.pump()
  }

  /** start queued long-polls while fewer than MAX_POLLS run; one request at a time per wait */
  private pump (): void {
    while (this.polls < MAX_POLLS && this.pollQueue.length > 0 && !this.closed) {
      const { id, w } = this.pollQueue.shift()!
      if (w.done === true) continue
      const left = w.end - Date.now()
      if (left <= 0) { this.timedOut(id, w); continue }
      this.polls++
      w.asking = true
      this.client.waitTaskOnce(id, Math.min(POLL_MS, left)).then(rec => {
        if (isFinal(rec)) { this.drop(w); w.resolve(outcomeOf(rec)); return }
        if (Date.now() >= w.end) { this.timedOut(id, w); return }
        // to the back of the queue: with more waits than slots, each gets its turn
        if (w.done !== true && !this.closed) this.pollQueue.push({ id, w })
      }, err => { this.drop(w); w.reject(err as Error) }).finally(() => {
        this.polls--
        w.asking = false
        this.pump()
      })
    }
  }

  private timedOut (id: string, w: Waiter): void {
    this.drop(w)
    w.reject(new Error(`task ${id} did not finish within the wait's time`))
  }

  /** Closes the stream; pending waits are rejected. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.res?.destroy()
    for (const [, list] of this.waiters) for (const w of list) w.reject(new Error('the result stream was closed'))
    this.waiters.clear()
    this.pollQueue.length = 0
    this.outcomes.clear()
    this.keptBytes = 0
  }

  private connect (): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.openStream('/v1/events?kinds=complete,error,failover').then(res => {
        this.res = res
        res.setEncoding('utf8')
        let ready = false
        res.on('data', (chunk: string) => {
          // the server's first bytes are the ': connected' comment, sent once it has subscribed us
          if (!ready) { ready = true; resolve() }
          this.feed(chunk)
        })
        let over = false
        const ended = (): void => {
          if (over) return // 'end', 'error' and 'close' may all come
          over = true
          if (!ready) { ready = true; reject(new Error('the event stream ended before it began')) }
          this.res = undefined
          // every wait goes to the long-poll now (events of the gap are not replayed)
          // (a wait's timer, still its safety net, then finds it polling and goes on to its end)
          if (!this.closed) for (const [id, list] of this.waiters) for (const w of list) this.poll(id, w)
        }
        res.on('end', ended)
        res.on('error', ended)
        res.on('close', ended)
      }, reject)
    })
  }

  private feed (chunk: string): void {
    const { records, rest } = cutRecords(this.buf + chunk, '\n\n')
    this.buf = rest
    for (const frame of records) {
      let e: ReturnType<typeof parseSseFrame>
      try {
        e = parseSseFrame(frame)
      } catch {
        // not our node's stream (a proxy's page, a cut frame): drop it; every wait long-polls
        this.res?.destroy()
        return
      }
      if (e !== undefined) this.onEvent(e.event, e.data, frame.length)
    }
  }

  private onEvent (kind: string, d: Record<string, any>, bytes: number): void {
    const taskId = String(d.taskId)
    if (kind === 'failover') { this.settle(taskId, { cloneId: String(d.cloneId) }, bytes); return }
    if (kind === 'complete') {
      this.settle(taskId, { taskId, status: 'completed', result: d.result, attempt: Number(d.attempt), ...(d.deviceId !== undefined ? { deviceId: String(d.deviceId) } : {}) }, bytes)
      return
    }
    if (kind === 'error' && d.final === true && FINAL.has(String(d.status))) {
      this.settle(taskId, { taskId, status: d.status as FinalStatus, error: d.error as TaskErrorData, attempt: Number(d.attempt), ...(d.deviceId !== undefined ? { deviceId: String(d.deviceId) } : {}) }, bytes)
    }
  }

  /** an outcome (or a failover link) for taskId: to its waiters, else kept for a wait to come */
  private settle (taskId: string, o: TaskOutcome | { cloneId: string }, bytes: number): void {
    const list = this.waiters.get(taskId)
    if (list === undefined) {
      this.forget(taskId)
      this.outcomes.set(taskId, { o, bytes })
      this.keptBytes += bytes
      // the oldest go first; their waits, when they come, long-poll after fallbackMs
      while (this.outcomes.size > this.keep || (this.keptBytes > this.keepBytes && this.outcomes.size > 0)) this.forget(this.outcomes.keys().next().value!)
      return
    }
    this.waiters.delete(taskId)
    if ('cloneId' in o) {
      // the waits move to the clone (its outcome, or its own clone's, may be here already)
      for (const w of list) {
        const known = this.follow(o.cloneId)
        if (typeof known !== 'string') w.resolve(known); else this.addWaiter(known, w)
      }
      return
    }
    for (const w of list) w.resolve(o)
  }

  /**
   * id's kept outcome, following kept failover links (removed from what is kept); else the id
   * the links end at, whose outcome is still to come
   */
  private follow (id: string): TaskOutcome | string {
    for (let hops = 0; hops < 100; hops++) {
      const o = this.outcomes.get(id)?.o
      if (o === undefined) return id
      if (!('cloneId' in o)) { this.forget(id); return o }
      id = o.cloneId
    }
    return id
  }

  private forget (id: string): void {
    const k = this.outcomes.get(id)
    if (k === undefined) return
    this.outcomes.delete(id)
    this.keptBytes -= k.bytes
  }

  private addWaiter (id: string, w: Waiter): void {
    const list = this.waiters.get(id)
    if (list === undefined) this.waiters.set(id, [w]); else list.push(w)
  }

  /** forget a waiter wherever its wait has moved (it may follow a clone) */
  private drop (w: Waiter): void {
    for (const [k, list] of this.waiters) {
      const i = list.indexOf(w)
      if (i < 0) continue
      list.splice(i, 1)
      if (list.length === 0) this.waiters.delete(k)
      return
    }
  }
}

/** a record no later change will end differently: terminal, and not failed over to a clone */
export function isFinal (r: TaskRecord): boolean {
  return FINAL.has(r.status) && r.replacedBy === undefined
}

function outcomeOf (r: TaskRecord): TaskOutcome {
  const o: TaskOutcome = { taskId: r.id, status: r.status as FinalStatus, attempt: r.attempts.length }
  if (r.result !== undefined) o.result = r.result
  if (r.error !== undefined) o.error = r.error
  if (r.deviceId !== undefined) o.deviceId = r.deviceId
  return o
}
