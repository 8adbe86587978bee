// The leader keeps the voter set healthy, one membership change at a time (Raft single-server
// changes), like Consul's autopilot: add fresh peers as learners, promote caught-up learners to
// voters up to the target count (preferring plugged-in compute/storage devices over phones), and
// remove voters that stayed dead. Pure: the caller supplies what it knows and applies the action.
import type { ConfChange, ConfState } from '../../protocol/raft/types.js'
import type { DeviceBid } from '../../sched/types.js'

export interface AutopilotView {
  selfId: string
  conf: ConfState
  targetVoters: number
  /** bids of peers we currently hear from (fresh), our own included */
  alive: DeviceBid[]
  /** for each member, ms since we last heard from it (undefined = never) */
  silentForMs: (id: string) => number | undefined
  deadVoterTimeoutMs: number
  /** follower replication: index it has, and the leader's last index */
  matchIndex: (id: string) => number
  lastIndex: number
}

/** how far behind a learner may be and still be promoted */
const CATCH_UP_SLACK = 200

export function nextMembershipChange (v: AutopilotView): ConfChange | undefined {
  const members = new Set([...v.conf.voters, ...v.conf.learners])
  // 1. remove a voter dead for long, if the rest still makes a quorum of the new set
  for (const id of v.conf.voters) {
    if (id === v.selfId) continue
    const silent = v.silentForMs(id)
    if (silent !== undefined && silent > v.deadVoterTimeoutMs && v.conf.voters.length > 1) return { type: 'removeNode', nodeId: id }
  }
  // 2. a peer that is not a member yet joins as a learner
  const newcomer = v.alive.filter(b => !members.has(b.nodeId)).map(b => b.nodeId).sort()[0]
  if (newcomer !== undefined) return { type: 'addLearner', nodeId: newcomer }
  // 3. promote the best caught-up learner while we have fewer voters than the target
  if (v.conf.voters.length < v.targetVoters) {
    const aliveById = new Map(v.alive.map(b => [b.nodeId, b]))
    const ready = v.conf.learners
      .filter(id => aliveById.has(id) && v.matchIndex(id) >= v.lastIndex - CATCH_UP_SLACK)
      .sort((a, b) => voterPreference(aliveById.get(b)!) - voterPreference(aliveById.get(a)!) || (a < b ? -1 : 1))
    if (ready[0] !== undefined) return { type: 'addVoter', nodeId: ready[0] }
  }
  return undefined
}

/** always-on, plugged-in machines make better voters than phones on battery */
function voterPreference (b: DeviceBid): number {
  let p = 0
  if (b.role === 'compute' || b.role === 'storage') p += 2
  if (b.battery === undefined || b.battery.charging) p += 1
  return p
}
