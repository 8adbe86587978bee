// The leader role (etcd's stepLeader and tickHeartbeat): answers to its appends and heartbeats move
// each member's Progress and the commit index; the heartbeat timer also runs CheckQuorum and gives up
// on lost snapshots and on a leadership transfer that did not finish in time.
import type { Message } from './types.js'
import type { Raft } from './raft.js'
import type { Progress } from './progress.js'
import { bcastCommit, bcastHeartbeat, maybeCommit, sendAppend } from './replication.js'
import { handleReadIndex, recvReadAck } from './read-only.js'

export function stepLeader (r: Raft, m: Message): void {
  switch (m.type) {
    case 'beat': bcastHeartbeat(r); return
    case 'prop': r.propose((m.entries ?? []).map(e => e.data)); return
    case 'readIndex': handleReadIndex(r, m); return
    case 'transferLeader': handleTransferLeader(r, m); return
  }
  const pr = r.trk.progress.get(m.from)
  if (pr === undefined) return
  switch (m.type) {
    case 'appResp': handleAppendResponse(r, m, pr); break
    case 'heartbeatResp': handleHeartbeatResponse(r, m, pr); break
    case 'snapStatus':
      if (pr.state !== 'snapshot') return
      if (m.reject === true) pr.pendingSnapshot = 0
      pr.becomeProbe()
      pr.probeSent = true // wait for the follower's answer or the next heartbeat
      break
    case 'unreachable':
      if (pr.state === 'replicate') pr.becomeProbe()
      break
  }
}

export function tickHeartbeat (r: Raft): void {
  r.heartbeatElapsed++
  r.electionElapsed++
  tickSnapshots(r)
  if (r.electionElapsed >= r.cfg.electionTick) {
    r.electionElapsed = 0
    // CheckQuorum: a leader that has not heard from a quorum within an election timeout steps
    // down, so a partitioned leader stops serving (and stops holding a lease).
    if (r.cfg.checkQuorum && !r.trk.quorumActive()) { r.becomeFollower(r.term, null); return }
    r.leadTransferee = null // a transfer that did not finish within an election timeout is abandoned
  }
  if (r.heartbeatElapsed >= r.cfg.heartbeatTick) {
    r.heartbeatElapsed = 0
    bcastHeartbeat(r)
  }
}

/** A snapshot neither acknowledged nor reported within snapshotTimeoutTick is presumed lost. */
function tickSnapshots (r: Raft): void {
  const limit = r.cfg.snapshotTimeoutTick ?? 5 * r.cfg.electionTick
  for (const pr of r.trk.progress.values()) {
    if (pr.state !== 'snapshot' || ++pr.snapshotTicks < limit) continue
    pr.pendingSnapshot = 0
    pr.becomeProbe() // the next heartbeat answer triggers a probe, and a new snapshot if needed
  }
}

function handleAppendResponse (r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true
  if (m.reject === true) { handleAppendRejection(r, m, pr); return }
  const index = m.index ?? 0
  const oldPaused = pr.isPaused()
  const updated = pr.maybeUpdate(index)
  if (!updated && !(pr.state === 'probe' && pr.match === index)) return
  if (pr.state === 'probe') pr.becomeReplicate()
  else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) { pr.becomeProbe(); pr.becomeReplicate() }
  else if (pr.state === 'replicate') pr.inflights.freeLE(index)

  if (maybeCommit(r)) bcastCommit(r)
  else if (oldPaused) sendAppend(r, m.from)
  // Pipelining: keep sending while the window allows and there is something to send.
  for (let i = 0; i < r.cfg.maxInflightMsgs && sendAppend(r, m.from, false); i++) { /* bounded */ }
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
    r.send({ type: 'timeoutNow', to: m.from })
  }
}

/** The member's log does not hold the append's previous entry: probe further back. */
function handleAppendRejection (r: Raft, m: Message, pr: Progress): void {
  const index = m.index ?? 0
  if (pr.maybeDecrTo(index, probeHint(r, m, index))) {
    if (pr.state === 'replicate') pr.becomeProbe()
    sendAppend(r, m.from)
  }
}

/** Where the member's log may match ours, from its hint and the term there (fast backtracking). */
function probeHint (r: Raft, m: Message, dflt: number): number {
  const hint = m.rejectHint ?? dflt
  return (m.logTerm ?? 0) > 0 ? r.log.findConflictByTerm(hint, m.logTerm ?? 0)[0] : hint
}

function handleHeartbeatResponse (r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true
  pr.probeSent = false
  // The member's log ends below the commit index we sent it (at most its match): see maybeLostTail.
  if (m.reject === true) pr.maybeLostTail(probeHint(r, m, 0))
  if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne()
  if (pr.match < r.log.lastIndex()) sendAppend(r, m.from)
  recvReadAck(r, m)
}

function handleTransferLeader (r: Raft, m: Message): void {
  const to = m.from
  const pr = r.trk.progress.get(to)
  if (pr === undefined || pr.isLearner) return
  if (r.leadTransferee !== null) {
    if (r.leadTransferee === to) return
    r.leadTransferee = null
  }
  if (to === r.id) return
  // The transfer must finish within an election timeout (tickHeartbeat aborts it otherwise).
  r.electionElapsed = 0
  r.leadTransferee = to
  if (pr.match === r.log.lastIndex()) r.send({ type: 'timeoutNow', to })
  else sendAppend(r, to)
}
