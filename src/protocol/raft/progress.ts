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
  /** probes at match rejected with a hint below it since the last acknowledgement (maybeLostTail) */
  rejectsAtMatch = 0
  /** how far this member was told our log is durable, this term (commit-inference.ts) */
  durableTold = 0
  readonly inflights: Inflights
  isLearner: boolean

  constructor (next: number, maxInflight: number, isLearner: boolean) {
    this.next = next
    this.inflights = new Inflights(maxInflight)
    this.isLearner = isLearner
  }

  private resetState (state: ProgressState): void {
    this.probeSent = false
    this.rejectsAtMatch = 0
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
    this.rejectsAtMatch = 0
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
    if (rejected === this.match && matchHint < this.match && ++this.rejectsAtMatch >= 2) return this.maybeLostTail(matchHint)
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1)
    this.probeSent = false
    return true
  }

  /**
   * The member's log ends below what it acknowledged (`match`): it no longer holds entries it
   * reported durable — a disk that lied about fsync, or a node restarted on an older copy of its data
   * dir. etcd raft assumes durable storage and never lowers match, so the leader would keep probing at
   * match and the member keep rejecting, forever; we run on old phones with lying disks, so forget
   * match and probe down from the hint until the logs meet. Commitment safety of the lost entries is
   * already gone on that member (its acknowledgement may have made them committed); the leader's
   * commit index is never lowered.
   * Evidence (a member that holds what it acknowledged hints at or above match, since terms only grow
   * along a log): a heartbeat answer saying the member's log ends below the commit index we sent it
   * (at most its match, so sent after the acknowledgement); or two rejections in a row of our probe at
   * match with a hint below it (one could be a reordered answer to an append sent before the
   * acknowledgement; then the second probe is acknowledged). Not in the snapshot state: the snapshot
   * in flight replaces that log anyway.
   */
  maybeLostTail (matchHint: number): boolean {
    if (matchHint >= this.match || this.state === 'snapshot') return false
    this.resetState('probe')
    this.match = 0 // nothing below is proven either: the member's log may differ anywhere above its commit
    this.next = Math.max(matchHint + 1, 1)
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
