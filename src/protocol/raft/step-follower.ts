// The follower role (etcd's stepFollower): it takes appends, heartbeats and snapshots from the
// leader (§5.3, §7) and answers them; its timer is the election timer (tickElection, step-candidate.ts).
import type { Message, Snapshot } from './types.js'
import type { Raft } from './raft.js'
import { ProposalDroppedError } from './errors.js'
import { hup } from './step-candidate.js'
import { noteLeaderDurable, noteMatched } from './commit-inference.js'

const EMPTY = new Uint8Array(0)

export function stepFollower (r: Raft, m: Message): void {
  switch (m.type) {
    case 'prop': throw new ProposalDroppedError(r.lead === null ? 'no leader' : `not the leader (leader is ${r.lead})`)
    case 'app': r.electionElapsed = 0; r.lead = m.from; handleAppend(r, m); return
    case 'heartbeat': r.electionElapsed = 0; r.lead = m.from; handleHeartbeat(r, m); return
    case 'snap': r.electionElapsed = 0; r.lead = m.from; handleSnapshot(r, m); return
    // only this term's leader sends it (after its fsync); not a sign of life for the election timer
    case 'durable': r.lead = m.from; noteLeaderDurable(r, m.index ?? 0); return
    case 'transferLeader':
    case 'readIndex':
      // Not forwarded: a message on the wire always comes from its sender, and the caller
      // (the driver) retries at the leader it knows of.
      return
    case 'timeoutNow':
      // Leadership transfer: campaign now, skipping PreVote; voters skip the lease check.
      hup(r, true)
      return
    case 'readIndexResp':
      r.readStates.push({ index: m.index ?? 0, context: m.context ?? EMPTY })
  }
}

export function handleAppend (r: Raft, m: Message): void {
  const prevIndex = m.index ?? 0
  if (prevIndex === 0 && r.trk.voters.size === 0 && r.trk.learners.size === 0 && (m.entries?.length ?? 0) > 0) {
    // We were added to a cluster whose founding configuration is not in the log (bootstrapped
    // at index 0). Replaying its conf changes from an empty configuration could make us believe
    // we are alone and elect ourselves: refuse, and stay visibly behind. Bootstrap founding
    // members with bootstrapStorage() so a new node gets the base configuration by snapshot.
    r.send({ type: 'appResp', to: m.from, index: prevIndex, reject: true, rejectHint: 0, logTerm: 0 })
    return
  }
  if (prevIndex < r.log.committed) {
    r.send({ type: 'appResp', to: m.from, index: r.log.committed })
    return
  }
  const lastNew = r.log.maybeAppend(prevIndex, m.logTerm ?? 0, m.commit ?? 0, m.entries ?? [])
  if (lastNew >= 0) {
    r.send({ type: 'appResp', to: m.from, index: lastNew })
    noteMatched(r, lastNew, m.durable)
    return
  }
  // Reject, with a hint for fast backtracking: the last index whose term is <= the leader's
  // prevTerm, so the leader can skip a whole conflicting term per round trip.
  const [hintIndex, hintTerm] = r.log.findConflictByTerm(Math.min(prevIndex, r.log.lastIndex()), m.logTerm ?? 0)
  r.send({ type: 'appResp', to: m.from, index: prevIndex, reject: true, rejectHint: hintIndex, logTerm: hintTerm })
}

export function handleHeartbeat (r: Raft, m: Message): void {
  const resp: Message = { type: 'heartbeatResp', from: r.id, to: m.from, term: r.term }
  // The leader sends min(match, commit), so this never exceeds what we hold — unless our disk lost
  // entries we had acknowledged (it lied about fsync, or we restarted on an older copy). Then commit
  // nothing, and tell the leader where our log ends so it probes down (Progress.maybeLostTail).
  const commit = m.commit ?? 0
  if (commit > r.log.lastIndex()) {
    resp.reject = true
    resp.rejectHint = r.log.lastIndex()
    resp.logTerm = r.log.lastTerm()
  } else {
    r.log.commitTo(commit)
  }
  if (m.context !== undefined) resp.context = m.context
  r.msgs.push(resp)
}

export function handleSnapshot (r: Raft, m: Message): void {
  const s = m.snapshot
  if (s === undefined) return
  if (restore(r, s)) r.send({ type: 'appResp', to: m.from, index: r.log.lastIndex() })
  else r.send({ type: 'appResp', to: m.from, index: r.log.committed })
}

function restore (r: Raft, s: Snapshot): boolean {
  if (s.meta.index <= r.log.committed) return false
  if (r.log.matchTerm(s.meta.index, s.meta.term)) {
    // We already hold the snapshot's last entry: just fast-forward the commit index.
    r.log.commitTo(s.meta.index)
    return false
  }
  r.log.restore(s)
  r.trk.applyConfState(s.meta.conf, r.log.lastIndex())
  return true
}
