// Elections (§5.2, PreVote thesis §9.6): the election timer that followers and candidates share, the
// campaign, the candidate role's step (etcd's stepCandidate, for preCandidate and candidate), and
// every role's answer to a vote request.
import type { Message, NodeId } from './types.js'
import type { Raft } from './raft.js'
import { ProposalDroppedError } from './errors.js'
import type { VoteResult } from './quorum.js'
import { bcastAppend } from './replication.js'
import { handleAppend, handleHeartbeat, handleSnapshot } from './step-follower.js'

/** Context of vote messages of a leadership-transfer campaign: voters skip the leader lease. */
export const CAMPAIGN_TRANSFER = new TextEncoder().encode('transfer')

type CampaignKind = 'pre' | 'election' | 'transfer'

export function isTransfer (ctx: Uint8Array | undefined): boolean {
  if (ctx === undefined || ctx.length !== CAMPAIGN_TRANSFER.length) return false
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== CAMPAIGN_TRANSFER[i]) return false
  return true
}

export function tickElection (r: Raft): void {
  r.electionElapsed++
  if (r.promotable() && r.electionElapsed >= r.randomizedElectionTimeout) {
    r.electionElapsed = 0
    hup(r, false)
  }
}

export function stepCandidate (r: Raft, m: Message): void {
  const myResp = r.role === 'preCandidate' ? 'preVoteResp' : 'voteResp'
  switch (m.type) {
    case 'prop': throw new ProposalDroppedError('no leader (election in progress)')
    case 'app': r.becomeFollower(m.term, m.from); handleAppend(r, m); return
    case 'heartbeat': r.becomeFollower(m.term, m.from); handleHeartbeat(r, m); return
    case 'snap': r.becomeFollower(m.term, m.from); handleSnapshot(r, m); return
  }
  if (m.type !== myResp) return
  const result = poll(r, m.from, m.reject !== true)
  if (result === 'won') {
    if (r.role === 'preCandidate') campaign(r, 'election')
    else { r.becomeLeader(); bcastAppend(r) }
  } else if (result === 'lost') {
    r.becomeFollower(r.term, null)
  }
}

/** Start an election now, if this node may; a transfer skips PreVote. */
export function hup (r: Raft, transfer: boolean): void {
  if (r.role === 'leader' || !r.promotable()) return
  // A conf change committed but not applied could change who votes; wait until it is applied.
  if (r.log.hasUnappliedConfChange()) return
  if (transfer) campaign(r, 'transfer')
  else campaign(r, r.cfg.preVote ? 'pre' : 'election')
}

function campaign (r: Raft, kind: CampaignKind): void {
  let term: number
  let type: 'vote' | 'preVote'
  if (kind === 'pre') {
    r.becomePreCandidate(); type = 'preVote'; term = r.term + 1
  } else {
    r.becomeCandidate(); type = 'vote'; term = r.term
  }
  if (poll(r, r.id, true) === 'won') {
    // single-voter cluster
    if (kind === 'pre') campaign(r, 'election')
    else r.becomeLeader()
    return
  }
  const index = r.log.lastIndex()
  const logTerm = r.log.lastTerm()
  for (const id of r.trk.voters) {
    if (id === r.id) continue
    const m: Message = { type, from: r.id, to: id, term, index, logTerm }
    if (kind === 'transfer') m.context = CAMPAIGN_TRANSFER
    r.msgs.push(m)
  }
}

function poll (r: Raft, id: NodeId, granted: boolean): VoteResult {
  r.trk.recordVote(id, granted)
  return r.trk.tallyVotes()
}

export function handleVoteRequest (r: Raft, m: Message): void {
  const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp'
  // §5.2: one vote per term (first come); a preVote for a future term is always considered.
  const canVote = r.vote === m.from ||
    (r.vote === null && r.lead === null) ||
    (m.type === 'preVote' && m.term > r.term)
  // §5.4.1 election restriction: only for a candidate whose log is at least as up to date.
  if (canVote && r.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)) {
    // the response carries the term the candidate asked about, so a preCandidate counts it
    r.send({ type: respType, to: m.from, term: m.term })
    if (m.type === 'vote') { r.electionElapsed = 0; r.vote = m.from }
  } else {
    r.send({ type: respType, to: m.from, reject: true, ...commitFact(r) })
  }
}

/**
 * Our commit index and its entry's term, for a (pre)vote rejection. A node whose log is ahead of a
 * candidate's may be one the candidate cannot do without and that cannot campaign itself: a leader
 * that committed its own removal steps down at once, and if the append telling the others of that
 * commit was lost, the one voter left still counts the removed node in its configuration and is
 * refused for its shorter log, forever (found by the driver simulator, seed 5152: {n4} the new
 * configuration, n4 asking n6, n6 removed). A committed (index, term) is true in every term, and
 * a log holding that entry holds the committed prefix (Log Matching), so the candidate may commit
 * it (learnCommit) and apply the change that lets it win.
 */
function commitFact (r: Raft): { commit?: number, logTerm?: number } {
  const t = r.log.term(r.log.committed)
  return r.log.committed > 0 && t !== undefined ? { commit: r.log.committed, logTerm: t } : {}
}

/** a (pre)vote answer told us of a commit: take it if our log holds that entry (see commitFact) */
export function learnCommit (r: Raft, m: Message): void {
  const c = m.commit
  if (c === undefined || m.logTerm === undefined || c <= r.log.committed || c > r.log.lastIndex()) return
  if (r.log.matchTerm(c, m.logTerm)) r.log.commitTo(c)
}
