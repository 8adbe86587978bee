// Commit inference: a follower that, with the leader, is a majority learns a commit by itself.
//
// Raft commits an entry of the leader's term once a majority of voters hold it durably (§5.3,
// §5.4.2); a follower normally learns that from the leader's next message, after its own
// acknowledgement went there and the leader counted it: a round trip after the follower's fsync.
// When the leader and this follower are a majority on their own (2 or 3 voters), the follower has
// every fact the leader's rule needs as soon as
//   a. its own log is durable up to the entry (the driver reports it after each fsync),
//   b. its log matches the leader's up to the entry (an append of this term succeeded there),
//   c. the leader's log is durable up to the entry (the leader says so: `durable` on its appends,
//      or a 'durable' message once its fsync is done), and
//   d. the entry is of the current term (§5.4.2: older entries commit with it, never by counting).
// That is the leader's own rule (replication.ts maybeCommit) with the follower's acknowledgement
// counted before it travels. The leader certifies c. only while its configuration is settled —
// {leader, follower} a majority of its voters and no conf change in its log left to apply — since
// entries are counted under the configuration the leader has applied, which only it knows.
// Effect: a follower applies at its own fsync instead of a round trip later (its clients' answers,
// its long-polls). Nothing changes on the leader; a follower's commit index may run ahead of it.
import type { Raft } from './raft.js'
import type { Progress } from './progress.js'

export class CommitInference {
  /** in this term: the leader's log is durable up to here (c.) */
  leaderDurable = 0
  /** in this term: our log matches the leader's up to here (b.) */
  matched = 0
  /** our log is durable up to here (a.); lowered when entries are replaced */
  localDurable = 0

  /** a new term (or role): what the last leader told us says nothing about the next one */
  resetTerm (): void {
    this.leaderDurable = 0
    this.matched = 0
  }
}

/** an append of this term succeeded: our log matches the leader's up to lastNew */
export function noteMatched (r: Raft, lastNew: number, leaderDurable: number | undefined): void {
  const inf = r.inference
  if (lastNew > inf.matched) inf.matched = lastNew
  if (leaderDurable !== undefined && leaderDurable > inf.leaderDurable) inf.leaderDurable = leaderDurable
  maybeInferCommit(r)
}

/** the leader's 'durable' message: its log is on its disk up to index */
export function noteLeaderDurable (r: Raft, index: number): void {
  if (index > r.inference.leaderDurable) r.inference.leaderDurable = index
  maybeInferCommit(r)
}

/**
 * The driver's report after an fsync: our log is durable up to index. Never beyond what the driver
 * was handed to write: a report racing an overwrite the driver has not written yet is about the
 * replaced entries.
 */
export function noteLocalDurable (r: Raft, index: number): void {
  dropOverwritten(r)
  r.inference.localDurable = Math.min(index, r.log.lastHandedOut())
  maybeInferCommit(r)
}

function dropOverwritten (r: Raft): void {
  const from = r.log.takeOverwrite()
  if (from - 1 < r.inference.localDurable) r.inference.localDurable = Math.max(0, from - 1)
}

export function maybeInferCommit (r: Raft): boolean {
  if (r.role !== 'follower' || r.lead === null) return false
  dropOverwritten(r)
  const inf = r.inference
  const target = Math.min(inf.leaderDurable, inf.matched, inf.localDurable, r.log.lastIndex())
  if (target <= r.log.committed || r.log.term(target) !== r.term) return false
  r.log.commitTo(target)
  return true
}

/**
 * Leader side: may this leader tell `to` that its log is durable (c.)? Only when the two of them
 * are a majority of its voters and every conf change in its log is applied (`applied` is the
 * driver's: what it has really applied, not what it was handed).
 */
export function mayCertifyDurable (r: Raft, to: string, applied: number): boolean {
  if (r.role !== 'leader' || r.pendingConfIndex > applied) return false
  const v = r.trk.voters
  return v.size <= 3 && v.has(r.id) && v.has(to) && to !== r.id
}

/**
 * Leader side: will this member learn the current commit index by itself? It was sent every entry
 * up to it (replicating, nothing lost that we know of) and told our log is durable that far; the
 * entry at the commit index is of this term (maybeCommit counts only those). Then an append that
 * carries nothing but the commit index is not needed — it and its answer were two of the four
 * messages per entry on an idle cluster. If the member's copy is lost after all, it rejects a later
 * append (we probe and send commit again) or learns the commit from the next heartbeat.
 */
export function willInferCommit (r: Raft, pr: Progress): boolean {
  const c = r.log.committed
  return pr.state === 'replicate' && pr.next - 1 >= c && pr.durableTold >= c
}
