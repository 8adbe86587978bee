// TaskQueue: the leader's queue of tasks waiting for a device.
//
// ORDER. Each entry has an effective priority that improves while it waits:
//
//   effective(p, wait) = max(1, p - floor(waitSeconds * weight[p] / agingSeconds))
//
// Lower is better (URGENT = 1). `priorityWeights` is the AGING SPEED of each base priority: with the
// seed's weights (URGENT 1.0, HIGH 0.8, NORMAL 0.5, LOW 0.3, BACKGROUND 0.1) and agingSeconds 60, a
// NORMAL task gains one level every 120 s and a BACKGROUND one every 600 s, so low-weight work
// yields longer to important work but still rises. Dequeue takes the entry with the smallest
// (effective priority, enqueue sequence): FIFO within equal effective priority.
//
// STARVATION BOUND. A task of base p enqueued at t0 (its enqueuedAt) reaches effective 1 at
// t0 + agingBoundSeconds(p) ≈ t0 + (p-1) * agingSeconds / weight[p]. From then on no task enqueued after
// it can be dequeued before it (their effective priority is >= 1 and their sequence is larger), so
// it leaves the queue after at most (tasks queued before it) further dequeues. Tested in
// test/unit/sched-queue.test.ts.
//
// COST. One FIFO bucket per base priority. Within a bucket all entries share base and weight, so the
// older one is never worse: the head is the bucket's best, and the queue's best is one of five
// heads. enqueue, dequeue, peek and remove are O(1) (amortised; remove marks the entry dead and the
// bucket drops dead entries when they reach its head or outnumber the live ones).

import { DuplicateTaskError, InvalidOptionError, InvalidTaskSpecError, QueueFullError } from './errors.js'
import { TaskPriority, type TaskData, type TaskStatus } from './types.js'

export interface TaskQueueOptions {
  /** @default 10000 — a bound on memory; a full queue refuses (QueueFullError), it never drops */
  maxSize?: number
  /** aging speed per base priority (1..5), each > 0. @default the seed's 1.0, 0.8, 0.5, 0.3, 0.1 */
  priorityWeights?: Record<number, number>
  /** seconds of waiting (at weight 1.0) to gain one priority level. @default 60 */
  agingSeconds?: number
}

export const DEFAULT_PRIORITY_WEIGHTS: Readonly<Record<number, number>> = {
  [TaskPriority.URGENT]: 1.0,
  [TaskPriority.HIGH]: 0.8,
  [TaskPriority.NORMAL]: 0.5,
  [TaskPriority.LOW]: 0.3,
  [TaskPriority.BACKGROUND]: 0.1
}

export interface QueueEntry<T> {
  readonly task: T
  /** base priority used for ordering (the enqueue override, else task.priority) */
  readonly priority: TaskPriority
  /** ms since epoch; max(now at enqueue, previous enqueuedAt) so it never decreases along the queue */
  readonly enqueuedAt: number
  /** global enqueue order, breaks ties */
  readonly seq: number
  dead: boolean
}

export interface QueueStatistics {
  size: number
  /** count per priority name (URGENT … BACKGROUND), all five present */
  byPriority: Record<string, number>
  /** mean time the currently queued tasks have waited so far; 0 when empty */
  avgWaitTimeSeconds: number
}

const PRIORITIES = [1, 2, 3, 4, 5] as const

/** A FIFO of entries with a moving head; dead (removed) entries are skipped and compacted away. */
class Bucket<T> {
  items: Array<QueueEntry<T> | undefined> = []
  head = 0
  live = 0
  /** bumped whenever `items` is rebuilt, which invalidates positions held by ordered() */
  epoch = 0

  push (e: QueueEntry<T>): void { this.items.push(e); this.live++ }

  /** First live entry, dropping dead ones in front of it. */
  first (): QueueEntry<T> | undefined {
    const items = this.items
    while (this.head < items.length) {
      const e = items[this.head]!
      if (!e.dead) return e
      items[this.head++] = undefined
    }
    this.reset()
    return undefined
  }

  shift (): void {
    this.items[this.head++] = undefined
    this.live--
    this.maybeCompact()
  }

  markDead (): void {
    this.live--
    this.maybeCompact()
  }

  private reset (): void {
    this.items.length = 0
    this.head = 0
    this.epoch++
  }

  /** Keep the array O(live): drop the consumed prefix and dead entries once they dominate. */
  private maybeCompact (): void {
    const span = this.items.length - this.head
    if (this.live === 0) { this.reset(); return }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
      this.epoch++
    } else if (span > 64 && this.live * 2 < span) {
      this.items = this.items.slice(this.head).filter(e => e !== undefined && !e.dead)
      this.head = 0
      this.epoch++
    }
  }
}

export class TaskQueue<T extends { id: string, priority: number } = TaskData> {
  readonly maxSize: number
  readonly agingSeconds: number
  /** aging speed per base priority, index 1..5 */
  private readonly weights: number[]
  private readonly buckets: Array<Bucket<T>> = PRIORITIES.map(() => new Bucket<T>())
  private readonly byId = new Map<string, QueueEntry<T>>()
  private nextSeq = 0
  /** enqueue times are clamped to be non-decreasing (see enqueue) */
  private lastEnqueuedAt = -Infinity
  /** sum of (enqueuedAt - timeBase) of live entries: avg wait in O(1). Offset from timeBase so the
   *  sum of 10^4 epoch-ms values stays far below 2^53 and exact. */
  private enqueuedAtSum = 0
  private timeBase = 0

  constructor (opts: TaskQueueOptions = {}) {
    const maxSize = opts.maxSize ?? 10000
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new InvalidOptionError('maxSize', `must be a positive integer, got ${maxSize}`)
    const aging = opts.agingSeconds ?? 60
    if (!(aging > 0) || !Number.isFinite(aging)) throw new InvalidOptionError('agingSeconds', `must be > 0, got ${aging}`)
    this.maxSize = maxSize
    this.agingSeconds = aging
    this.weights = [0]
    for (const p of PRIORITIES) {
      const w = opts.priorityWeights?.[p] ?? DEFAULT_PRIORITY_WEIGHTS[p]
      if (typeof w !== 'number' || !(w > 0) || !Number.isFinite(w)) {
        throw new InvalidOptionError(`priorityWeights.${TaskPriority[p]}`, `must be a number > 0, got ${w}`)
      }
      this.weights.push(w)
    }
  }

  get size (): number { return this.byId.size }

  has (id: string): boolean { return this.byId.has(id) }

  get (id: string): T | undefined { return this.byId.get(id)?.task }

  /**
   * Adds a task. `now` is ms since epoch (clamped up to the previous enqueue time if the clock
   * stepped back); `priority` overrides task.priority for ordering.
   * Throws QueueFullError at maxSize and DuplicateTaskError for an id already queued; either way
   * the queue is unchanged.
   */
  enqueue (task: T, now: number, priority: number = task.priority): void {
    if (!Number.isInteger(priority) || priority < 1 || priority > 5) {
      throw new InvalidTaskSpecError('priority', `must be an integer 1..5, got ${priority}`)
    }
    if (!Number.isFinite(now)) throw new InvalidOptionError('now', `must be a finite time in ms, got ${now}`)
    if (this.byId.has(task.id)) throw new DuplicateTaskError(task.id)
    if (this.byId.size >= this.maxSize) throw new QueueFullError(this.maxSize)
    // enqueue times never go backwards (a new leader's clock may be behind the old one's): keeps
    // "older in a bucket = never worse", which the five-heads trick relies on
    const at = Math.max(now, this.lastEnqueuedAt)
    this.lastEnqueuedAt = at
    const e: QueueEntry<T> = { task, priority, enqueuedAt: at, seq: this.nextSeq++, dead: false }
    if (this.byId.size === 0) { this.timeBase = at; this.enqueuedAtSum = 0 }
    this.byId.set(task.id, e)
    this.buckets[priority - 1].push(e)
    this.enqueuedAtSum += at - this.timeBase
  }

  /** Removes and returns the best task at time `now`, or undefined when empty. */
  dequeue (now: number): T | undefined {
    const b = this.bestBucket(now)
    if (b === undefined) return undefined
    const e = b.first()!
    b.shift()
    this.forget(e)
    return e.task
  }

  /** The task dequeue(now) would return, without removing it. */
  peek (now: number): T | undefined {
    return this.bestBucket(now)?.first()?.task
  }

  /** Removes a task by id (e.g. cancelled); false if it was not queued. */
  remove (id: string): boolean {
    const e = this.byId.get(id)
    if (e === undefined) return false
    e.dead = true
    this.buckets[e.priority - 1].markDead()
    this.forget(e)
    return true
  }

  /** Effective priority of an entry at `now` (see the rule at the top of this file). */
  effectivePriority (e: { priority: number, enqueuedAt: number }, now: number): number {
    const waitSeconds = Math.max(0, now - e.enqueuedAt) / 1000
    return Math.max(1, e.priority - Math.floor(waitSeconds * this.weights[e.priority] / this.agingSeconds))
  }

  /**
   * Longest wait (s, whole ms) before a task of base `priority` reaches effective priority 1:
   * (p-1) * agingSeconds / weight[p], nudged past float rounding so that it is the first whole ms
   * at which effectivePriority is 1.
   */
  agingBoundSeconds (priority: number): number {
    const eff = (ms: number): number => this.effectivePriority({ priority, enqueuedAt: 0 }, ms)
    let ms = Math.ceil((priority - 1) * this.agingSeconds * 1000 / this.weights[priority])
    for (let i = 0; i < 1000 && eff(ms) > 1; i++) ms++
    for (let i = 0; i < 1000 && ms > 0 && eff(ms - 1) === 1; i++) ms--
    return ms / 1000
  }

  /**
   * Tasks in dequeue order at `now`, without removing them: a 5-way merge of the buckets, O(1) per
   * task. If the queue changes while a caller iterates, the walk resumes after the last task it
   * yielded (by effective priority and sequence): no task is yielded twice, removed tasks are not
   * yielded, and tasks enqueued meanwhile appear only if they sort after that point.
   */
  * ordered (now: number): Generator<T> {
    const cursors = this.buckets.map(b => b.head)
    const epochs = this.buckets.map(b => b.epoch)
    let lastEff = 0
    let lastSeq = -1
    for (;;) {
      let best: QueueEntry<T> | undefined
      let bestBucket = -1
      let bestEff = 0
      for (let i = 0; i < 5; i++) {
        const b = this.buckets[i]
        if (b.epoch !== epochs[i]) { // the caller changed the queue and this bucket was rebuilt
          epochs[i] = b.epoch
          cursors[i] = b.head
        }
        const items = b.items
        let e: QueueEntry<T> | undefined
        let eff = 0
        // within a bucket keys increase, so what was already yielded is a prefix to skip
        for (; cursors[i] < items.length; cursors[i]++) {
          e = items[cursors[i]]
          if (e === undefined || e.dead) continue
          eff = this.effectivePriority(e, now)
          if (eff > lastEff || (eff === lastEff && e.seq > lastSeq)) break
        }
        if (cursors[i] >= items.length) continue
        if (best === undefined || eff < bestEff || (eff === bestEff && e!.seq < best.seq)) {
          best = e; bestBucket = i; bestEff = eff
        }
      }
      if (best === undefined) return
      cursors[bestBucket]++
      lastEff = bestEff
      lastSeq = best.seq
      yield best.task
    }
  }

  toArray (now: number): T[] { return [...this.ordered(now)] }

  /** Live entries in enqueue order. */
  entries (): Array<QueueEntry<T>> {
    return [...this.byId.values()]
  }

  /**
   * Queued tasks in enqueue order, optionally those with a given status. The status of a task is
   * statusOf(task) if given, else its own `status` field if it has one, else 'queued'.
   */
  listTasks (filter: { status?: TaskStatus } = {}, statusOf?: (t: T) => TaskStatus): T[] {
    const out: T[] = []
    for (const e of this.byId.values()) {
      if (filter.status !== undefined) {
        const s = statusOf !== undefined ? statusOf(e.task) : ((e.task as { status?: TaskStatus }).status ?? 'queued')
        if (s !== filter.status) continue
      }
      out.push(e.task)
    }
    return out
  }

  /** Tasks waiting at this submitted priority (O(1); aging not applied). */
  countAt (priority: number): number { return this.buckets[priority - 1]?.live ?? 0 }

  getStatistics (now: number): QueueStatistics {
    const byPriority: Record<string, number> = {}
    for (const p of PRIORITIES) byPriority[TaskPriority[p]] = this.buckets[p - 1].live
    const n = this.byId.size
    const avgWaitMs = n === 0 ? 0 : Math.max(0, now - this.timeBase - this.enqueuedAtSum / n)
    return { size: n, byPriority, avgWaitTimeSeconds: avgWaitMs / 1000 }
  }

  clear (): void {
    for (const id of [...this.byId.keys()]) this.remove(id)
  }

  private forget (e: QueueEntry<T>): void {
    this.byId.delete(e.task.id)
    this.enqueuedAtSum -= e.enqueuedAt - this.timeBase
  }

  /** The bucket whose head is best at `now`: smallest effective priority, then smallest seq. */
  private bestBucket (now: number): Bucket<T> | undefined {
    let best: Bucket<T> | undefined
    let bestEff = 0
    let bestSeq = 0
    for (let i = 0; i < 5; i++) {
      const b = this.buckets[i]
      if (b.live === 0) continue
      const e = b.first()!
      const eff = this.effectivePriority(e, now)
      if (best === undefined || eff < bestEff || (eff === bestEff && e.seq < bestSeq)) {
        best = b; bestEff = eff; bestSeq = e.seq
      }
    }
    return best
  }
}
