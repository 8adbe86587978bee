// The leader's view of one follower (etcd's tracker.Progress): how far it matches, what to send next,
// and a bounded window of in-flight append messages for pipelining.
//
// States: probe — send one append per heartbeat interval until the follower's match is found;
// replicate — stream appends optimistically up to maxInflightMsgs; snapshot — a snapshot is in
// flight, send nothing until it is reported.

export type ProgressState = 'probe' | 'replicate' | 'snapshot'

/** Ring of last indices of in-flight appends; bounded by `capacity` (maxInflightMsgs). */
export class Inflights {
  private readonly idx: number[]
  private start = 0
  count = 0
  constructor (readonly capacity: number) { this.idx = new Array<number>(capacity).fill(0) }
  full (): boolean { return this.count >= this.capacity }
  add (lastIndex: number): void {
    if (this.full()) throw new Error('raft: inflights overflow') // a bug: callers check full() first
    this.idx[(this.start + this.count) % this.capacity] = lastIndex
    this.count++
  }
  /** free every in-flight message whose last index is <= to */
  freeLE (to: number): void {
    while (this.count > 0 && this.idx[this.start] <= to) {
      this.start = (this.start + 1) % this.capacity
      this.count--
    }
  }
  freeFirstOne (): void {
    if (this.count === 0) return
    this.start = (this.start + 1) % this.capacity
    this.count--
  }
  reset (): void { this.start = 0; this.count = 0 }
}

export class Progress {
  match = 0
  next: number
  state: ProgressState = 'probe'
  /** in probe: an append was sent and we wait for its answer or the next heartbeat */
  probeSent = false
  /** index of the snapshot in flight (snapshot state only) */
  pendingSnapshot = 0
  /** ticks spent in the snapshot state (the leader gives up after snapshotTimeoutTick) */
  snapshotTicks = 0
  /** heard from within the current election timeout (CheckQuorum) */
  recentActive = false
  readonly inflights: Inflights
  isLearner: boolean

  constructor (next: number, maxInflight: number, isLearner: boolean) {
    this.next = next
    this.inflights = new Inflights(maxInflight)
    this.isLearner = isLearner
  }

  private resetState (state: ProgressState): void {
    this.probeSent = false
    this.pendingSnapshot = 0
    this.state = state
    this.inflights.reset()
  }

  becomeProbe (): void {
    // After a snapshot, resume right after it (or after match, whichever is further).
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot
      this.resetState('probe')
      this.next = Math.max(this.match + 1, pending + 1)
    } else {
      this.resetState('probe')
      this.next = this.match + 1
    }
  }

  becomeReplicate (): void { this.resetState('replicate'); this.next = this.match + 1 }
  becomeSnapshot (snapIndex: number): void { this.resetState('snapshot'); this.pendingSnapshot = snapIndex; this.snapshotTicks = 0 }

  /** a successful append answer up to n; false if it is stale */
  maybeUpdate (n: number): boolean {
    let updated = false
    if (this.match < n) { this.match = n; updated = true; this.probeSent = false }
    this.next = Math.max(this.next, n + 1)
    return updated
  }

  /** a rejection of the append at `rejected`; the follower hints its log may match at `matchHint` */
  maybeDecrTo (rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false // stale
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false // stale: not the probe we sent
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1)
    this.probeSent = false
    return true
  }

  /** bookkeeping after sending an append carrying entries up to lastIndex */
  sentEntries (count: number, lastIndex: number): void {
    if (this.state === 'replicate') {
      if (count > 0) { this.next = lastIndex + 1; this.inflights.add(lastIndex) }
    } else if (this.state === 'probe') {
      this.probeSent = true
    }
  }

  isPaused (): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent
      case 'replicate': return this.inflights.full()
      default: return true
    }
  }
}
