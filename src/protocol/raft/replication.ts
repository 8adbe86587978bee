// The leader's side of log replication (§5.3, §7): appending its own proposals, advancing the commit
// index (§5.4.2), and what it sends to each member — appends paced by that member's Progress,
// a snapshot when the entries it needs are compacted, heartbeats.
import type { Entry, EntryType, Message, NodeId } from './types.js'
import type { Raft } from './raft.js'
import type { Progress } from './progress.js'
import { CompactedError, ProposalDroppedError } from './errors.js'
import { releaseWaitingReads } from './read-only.js'
import { willInferCommit } from './commit-inference.js'

/** Throws ProposalDroppedError unless this node may take new entries now. */
export function assertCanPropose (r: Raft): void {
  if (r.role !== 'leader') {
    throw new ProposalDroppedError(r.lead === null ? 'no leader' : `not the leader (leader is ${r.lead})`)
  }
  if (r.leadTransferee !== null) throw new ProposalDroppedError(`leadership transfer to ${r.leadTransferee} in progress`)
  if (!r.trk.progress.has(r.id)) throw new ProposalDroppedError('this node was removed from the cluster')
  const max = r.cfg.maxUncommittedEntries ?? 0
  const uncommitted = r.log.lastIndex() - r.log.committed
  if (max > 0 && uncommitted >= max) throw new ProposalDroppedError(`${uncommitted} entries uncommitted (limit maxUncommittedEntries ${max})`)
}

/** Append entries of the leader's term to its own log. */
export function appendEntries (r: Raft, es: Array<{ type: EntryType, data: Uint8Array }>): void {
  let index = r.log.lastIndex()
  const ents: Entry[] = new Array(es.length)
  for (let i = 0; i < es.length; i++) ents[i] = { term: r.term, index: ++index, type: es[i].type, data: es[i].data }
  r.log.append(ents)
  r.trk.progress.get(r.id)?.maybeUpdate(r.log.lastIndex())
  // A single-voter cluster commits here; otherwise this is a no-op until followers answer.
  maybeCommit(r)
}

/** §5.3/§5.4.2: advance commit to the highest index on a majority of voters, if of this term. */
export function maybeCommit (r: Raft): boolean {
  const mci = r.trk.committed()
  if (mci <= r.log.committed || r.log.term(mci) !== r.term) return false
  const firstInTerm = r.log.term(r.log.committed) !== r.term
  r.log.commitTo(mci)
  if (firstInTerm) releaseWaitingReads(r)
  return true
}

export function bcastAppend (r: Raft): void {
  for (const id of r.trk.progress.keys()) if (id !== r.id) sendAppend(r, id)
}

/** The commit index advanced: tell every member, but for those that infer it themselves (commit-inference.ts). */
export function bcastCommit (r: Raft): void {
  const last = r.log.lastIndex()
  for (const [id, pr] of r.trk.progress) {
    if (id === r.id || (pr.next > last && willInferCommit(r, pr))) continue
    sendAppend(r, id)
  }
}

export function bcastHeartbeat (r: Raft, ctx?: Uint8Array): void {
  const context = ctx ?? r.readOnly.lastPendingContext()
  for (const [id, pr] of r.trk.progress) {
    if (id === r.id) continue
    const m: Message = { type: 'heartbeat', from: r.id, to: id, term: r.term, commit: Math.min(pr.match, r.log.committed) }
    if (context !== undefined) m.context = context
    r.msgs.push(m)
  }
}

/** Send an append (or a snapshot if the entries are compacted). False if nothing was sent. */
export function sendAppend (r: Raft, to: NodeId, sendIfEmpty = true): boolean {
  const pr = r.trk.progress.get(to)
  if (pr === undefined || pr.isPaused()) return false
  const prevIndex = pr.next - 1
  const prevTerm = r.log.term(prevIndex)
  let ents: Entry[] | undefined
  if (prevTerm !== undefined) {
    try {
      ents = r.log.slice(pr.next, r.log.lastIndex() + 1, r.cfg.maxSizePerMsg)
    } catch (err) {
      if (!(err instanceof CompactedError)) throw err
    }
  }
  if (prevTerm === undefined || ents === undefined) return sendSnapshot(r, to, pr)
  if (ents.length === 0 && !sendIfEmpty) return false
  r.msgs.push({ type: 'app', from: r.id, to, term: r.term, index: prevIndex, logTerm: prevTerm, entries: ents, commit: r.log.committed })
  pr.sentEntries(ents.length, prevIndex + ents.length)
  return true
}

function sendSnapshot (r: Raft, to: NodeId, pr: Progress): boolean {
  if (!pr.recentActive) return false // do not ship a snapshot to a node we have not heard from
  const snapshot = r.log.snapshot()
  if (snapshot.meta.index === 0) return false
  pr.becomeSnapshot(snapshot.meta.index)
  r.msgs.push({ type: 'snap', from: r.id, to, term: r.term, snapshot })
  return true
}
