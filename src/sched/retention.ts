// Retention: which finished records may leave the replicated state. A terminal task is kept for
// the cluster's retention (ClusterSettings.retentionMs, default 24 h) or its own
// requirements.resultTtlSeconds, counted from endedAt (the leader's time of the command that ended
// it, so every node agrees). The leader finds candidates here and proposes an 'evict' naming them;
// apply re-checks each at the command's time.
//
// EndedIndex finds candidates without scanning all tasks: two binary min-heaps of (time, id), one
// keyed by endedAt for tasks on the cluster retention (a retention change shifts every expiry alike,
// so the order holds), one keyed by expiry for tasks with their own TTL. Candidates are the heap
// nodes at or below a threshold: a walk from the root that stops at bigger keys, O(found). An
// evicted task's entry is removed at once (the heaps know each id's position), so the walk never
// spends its budget on dead entries. Derived data: not in the snapshot, rebuilt on restore.
//
// The retained-records cap (ClusterSettings.maxRetainedTasks, like BullMQ's removeOnComplete
// {count}) needs the terminal records oldest first by (endedAt, id), whatever their retention: a
// third heap keys the own-TTL tasks by endedAt too, and oldest() merges it with byEnd in order.

import type { TaskRecord } from './commands.js'

/** The cluster retention when no setting is given: results stay queryable for a day. */
export const DEFAULT_RETENTION_MS = 24 * 3_600_000

/**
 * Terminal records kept at most when no setting is given (ClusterSettings.maxRetainedTasks); beyond
 * it the oldest go before their retention ends. Every voter holds every record: measured ~1-1.5 KB
 * of heap and ~0.4 KB of snapshot per echo task (issue 14's soak), so 100,000 finished records are
 * ~150 MB of heap and ~40 MB per snapshot on each node: affordable on a 1-2 GB phone, and with the
 * ready queue's 100,000 (DEFAULT_MAX_QUEUE_SIZE) a node holds at most ~200,000 records. A cluster
 * below 100,000 tasks a day never meets it (the 24 h retention governs); set it higher on big machines.
 */
export { DEFAULT_MAX_RETAINED_TASKS } from '../protocol/limits.js'

/** When retention starts for a terminal record (endedAt; older snapshots lack it). */
export function endedAtOf (rec: TaskRecord): number {
  return rec.endedAt ?? rec.finishedAt ?? rec.submittedAt
}

/** When a terminal record may be evicted, under cluster retention `retentionMs`. */
export function expiresAt (rec: TaskRecord, retentionMs: number): number {
  const ttl = rec.task.requirements.resultTtlSeconds
  return endedAtOf(rec) + (ttl === undefined ? retentionMs : ttl * 1000)
}

class MinHeap {
  private readonly keys: number[] = []
  private readonly ids: string[] = []
  /** id → its position in keys/ids */
  private readonly pos = new Map<string, number>()

  get size (): number { return this.keys.length }

  has (id: string): boolean { return this.pos.has(id) }

  push (key: number, id: string): void {
    this.keys.push(key); this.ids.push(id)
    this.pos.set(id, this.keys.length - 1)
    this.up(this.keys.length - 1)
  }

  /** removes id's entry, if any */
  remove (id: string): void {
    const i = this.pos.get(id)
    if (i === undefined) return
    const last = this.keys.length - 1
    this.swap(i, last)
    this.keys.pop(); this.ids.pop()
    this.pos.delete(id)
    if (i < last) { this.down(i); this.up(i) }
  }

  private up (i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(i, p)) break
      this.swap(i, p); i = p
    }
  }

  private down (i: number): void {
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < this.keys.length && this.less(l, m)) m = l
      if (r < this.keys.length && this.less(r, m)) m = r
      if (m === i) break
      this.swap(i, m); i = m
    }
  }

  /** Ids with key ≤ max, visiting at most `maxVisit` nodes (a heap's children are never smaller). */
  atMost (max: number, maxVisit: number, out: (id: string) => void): number {
    const stack = this.keys.length > 0 && this.keys[0] <= max ? [0] : []
    let visited = 0
    while (stack.length > 0 && visited < maxVisit) {
      const i = stack.pop() as number
      visited++
      out(this.ids[i])
      for (const c of [2 * i + 1, 2 * i + 2]) if (c < this.keys.length && this.keys[c] <= max) stack.push(c)
    }
    return visited
  }

  private less (a: number, b: number): boolean {
    return this.keys[a] < this.keys[b] || (this.keys[a] === this.keys[b] && this.ids[a] < this.ids[b])
  }

  /** key and id at position i (for an ordered walk, see mergedInOrder) */
  keyAt (i: number): number { return this.keys[i] }
  idAt (i: number): string { return this.ids[i] }

  private swap (a: number, b: number): void {
    const k = this.keys[a]; this.keys[a] = this.keys[b]; this.keys[b] = k
    const s = this.ids[a]; this.ids[a] = this.ids[b]; this.ids[b] = s
    this.pos.set(this.ids[a], a); this.pos.set(this.ids[b], b)
  }
}

/**
 * Ids of the heaps' entries in ascending (key, id) order, at most maxVisit of them, until `visit`
 * returns false. A frontier heap of positions: a position's children are never smaller, so the
 * next smallest is always on the frontier. O(k log k) for k visited; the heaps are not changed.
 */
function mergedInOrder (heaps: MinHeap[], maxVisit: number, visit: (id: string) => boolean): void {
  const front: Array<{ h: MinHeap, i: number }> = []
  const less = (a: { h: MinHeap, i: number }, b: { h: MinHeap, i: number }): boolean => {
    const ka = a.h.keyAt(a.i); const kb = b.h.keyAt(b.i)
    return ka < kb || (ka === kb && a.h.idAt(a.i) < b.h.idAt(b.i))
  }
  const push = (x: { h: MinHeap, i: number }): void => {
    front.push(x)
    for (let i = front.length - 1; i > 0;) {
      const p = (i - 1) >> 1
      if (!less(front[i], front[p])) break
      const t = front[i]; front[i] = front[p]; front[p] = t; i = p
    }
  }
  const pop = (): { h: MinHeap, i: number } => {
    const top = front[0]
    const last = front.pop() as { h: MinHeap, i: number }
    if (front.length > 0) {
      front[0] = last
      for (let i = 0; ;) {
        const l = 2 * i + 1; const r = l + 1
        let m = i
        if (l < front.length && less(front[l], front[m])) m = l
        if (r < front.length && less(front[r], front[m])) m = r
        if (m === i) break
        const t = front[i]; front[i] = front[m]; front[m] = t; i = m
      }
    }
    return top
  }
  for (const h of heaps) if (h.size > 0) push({ h, i: 0 })
  for (let n = 0; front.length > 0 && n < maxVisit; n++) {
    const { h, i } = pop()
    if (!visit(h.idAt(i))) return
    for (const c of [2 * i + 1, 2 * i + 2]) if (c < h.size) push({ h, i: c })
  }
}

/** Terminal tasks by when they may go (see the file comment). */
export class EndedIndex {
  /** tasks on the cluster retention, keyed by endedAt */
  private readonly byEnd = new MinHeap()
  /** tasks with their own resultTtlSeconds, keyed by expiry */
  private readonly byExpiry = new MinHeap()
  /** the same tasks as byExpiry, keyed by endedAt (with byEnd: every terminal task by endedAt) */
  private readonly ttlByEnd = new MinHeap()

  get size (): number { return this.byEnd.size + this.byExpiry.size }

  add (rec: TaskRecord): void {
    this.remove(rec.id)
    if (rec.task.requirements.resultTtlSeconds === undefined) this.byEnd.push(endedAtOf(rec), rec.id)
    else { this.byExpiry.push(expiresAt(rec, 0), rec.id); this.ttlByEnd.push(endedAtOf(rec), rec.id) }
  }

  /** Terminal task ids oldest first by (endedAt, id), ≤ maxVisit of them, while `visit` returns true. */
  oldest (maxVisit: number, visit: (id: string) => boolean): void {
    mergedInOrder([this.byEnd, this.ttlByEnd], maxVisit, visit)
  }

  /** Ids whose retention may have passed at `now` (the caller re-checks the records), ≤ maxVisit of them. */
  expired (now: number, retentionMs: number, maxVisit: number): string[] {
    const out: string[] = []
    const push = (id: string): void => { out.push(id) }
    const n = this.byExpiry.atMost(now, maxVisit, push)
    this.byEnd.atMost(now - retentionMs, maxVisit - n, push)
    return out
  }

  /** Forgets an evicted task. */
  remove (id: string): void {
    this.byEnd.remove(id)
    this.byExpiry.remove(id)
    this.ttlByEnd.remove(id)
  }
}
