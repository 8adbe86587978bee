// Membership changes, one server at a time (§6, thesis ch. 4): a leader proposes one conf change and
// the next waits until it is applied; every node applies a committed change to its tracker, and a
// leader then probes a new member, commits what the new majority holds, or steps down if removed.
import type { ConfChange, ConfState, Entry } from './types.js'
import type { Raft } from './raft.js'
import type { ProgressTracker } from './tracker.js'
import { ProposalDroppedError, RaftInputError } from './errors.js'
import { decodeConfChange, encodeConfChange, validateConfChange } from './conf-change.js'
import { appendEntries, assertCanPropose, bcastAppend, maybeCommit, sendAppend } from './replication.js'

export function proposeConfChange (r: Raft, cc: ConfChange): void {
  validateConfChange(cc)
  assertCanPropose(r)
  if (r.pendingConfIndex > r.log.applied) {
    throw new ProposalDroppedError(`a configuration change is pending (index ${r.pendingConfIndex} not applied yet, applied ${r.log.applied})`)
  }
  checkAgainstConf(r.trk, cc)
  appendEntries(r, [{ type: 'conf', data: encodeConfChange(cc) }])
  r.pendingConfIndex = r.log.lastIndex()
  bcastAppend(r)
}

function checkAgainstConf (trk: ProgressTracker, cc: ConfChange): void {
  const id = cc.nodeId
  if (cc.type === 'addVoter' && trk.voters.has(id)) throw new RaftInputError('confChange.nodeId', `${id} is already a voter`)
  if (cc.type === 'addLearner' && trk.learners.has(id)) throw new RaftInputError('confChange.nodeId', `${id} is already a learner`)
  if (cc.type === 'removeNode' && !trk.progress.has(id)) throw new RaftInputError('confChange.nodeId', `${id} is not a member`)
  const leavesNoVoter = (cc.type === 'removeNode' || cc.type === 'addLearner') && trk.voters.size === 1 && trk.voters.has(id)
  if (leavesNoVoter) throw new RaftInputError('confChange', `removing ${id} would leave no voter`)
}

/** Apply a committed conf change (the ConfChange or its 'conf' entry); returns the new configuration. */
export function applyConfChange (r: Raft, ccOrEntry: ConfChange | Entry): ConfState {
  const cc = 'data' in ccOrEntry ? decodeConfChange(ccOrEntry.data) : ccOrEntry
  validateConfChange(cc)
  changeMember(r.trk, cc, r.log.lastIndex())
  if (r.role === 'leader') afterChangeAsLeader(r, cc)
  return r.trk.confState()
}

function changeMember (trk: ProgressTracker, cc: ConfChange, lastIndex: number): void {
  const id = cc.nodeId
  if (cc.type === 'removeNode') {
    trk.voters.delete(id); trk.learners.delete(id); trk.progress.delete(id)
    return
  }
  const learner = cc.type === 'addLearner'
  if (learner) { trk.voters.delete(id); trk.learners.add(id) } else { trk.learners.delete(id); trk.voters.add(id) }
  let pr = trk.progress.get(id)
  if (pr === undefined) {
    pr = trk.newProgress(lastIndex + 1, learner)
    pr.recentActive = true // a new member may need a snapshot at once
    trk.progress.set(id, pr)
  }
  pr.isLearner = learner
}

function afterChangeAsLeader (r: Raft, cc: ConfChange): void {
  if (!r.trk.voters.has(r.id)) {
    r.becomeFollower(r.term, null) // removed or demoted leader steps down
    return
  }
  if (maybeCommit(r)) bcastAppend(r)
  else for (const pid of r.trk.progress.keys()) if (pid !== r.id) sendAppend(r, pid, pid === cc.nodeId) // probe a new member now
  if (r.leadTransferee !== null && !r.trk.voters.has(r.leadTransferee)) r.leadTransferee = null
}
