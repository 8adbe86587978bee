// What the API shows of the cluster from this node: the devices it knows (bids, with Raft
// membership, liveness and replicated reliability merged in), and its own Raft status.
import type { DeviceBid } from '../../sched/types.js'
import type { NodeInfo, RaftStatus } from '../api-types.js'
import type { ClusterCore } from './core.js'
import type { RaftMember } from './raft-member.js'

export interface NodeListInit {
  selfId: string
  raft: RaftMember
  core: ClusterCore
  bids: () => DeviceBid[]
  /** this node's own bid, fresh (the table holds only what peers sent) */
  ownBid: () => DeviceBid
  lastSeen: (id: string) => number | undefined
  deviceTimeoutMs: number
  /** how much longer than usual a device may be silent here with nothing wrong (an idle member's bids are rarer; BidGossip.extraSilenceMs) */
  extraSilenceMs: (bid: DeviceBid) => number
  now: () => number
}

/** a device with no replicated outcome yet: the prior every device starts from (src/sched/reliability.ts) */
const NO_HISTORY = { score: 0.75, successes: 0, failures: 0, health: 'ok' as const, quarantines: 0 }

/** every device this node hears of, ourselves included, by name then id */
export function nodeList (d: NodeListInit): NodeInfo[] {
  const now = d.now()
  const conf = d.raft.driver?.conf ?? { voters: [], learners: [] }
  const leaderId = d.raft.leaderId
  const byId = new Map<string, DeviceBid>()
  for (const b of d.bids()) byId.set(b.nodeId, b)
  byId.set(d.selfId, d.ownBid())
  return [...byId.values()].map(b => {
    const seen = d.lastSeen(b.nodeId) ?? 0
    return {
      ...b,
      id: b.nodeId,
      isLeader: b.nodeId === leaderId,
      isVoter: conf.voters.includes(b.nodeId),
      lastSeenMs: now - seen,
      // a follower hears other followers only through their bids, every 5 s from an idle member
      alive: now - seen <= d.deviceTimeoutMs + d.extraSilenceMs(b),
      reliability: d.core.state.deviceReliability(now, b.nodeId)[0] ?? { deviceId: b.nodeId, ...NO_HISTORY }
    }
  }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1))
}

export function raftStatusOf (raft: RaftMember, core: ClusterCore): RaftStatus {
  const d = raft.driver
  if (d === undefined) return { term: 0, commitIndex: 0, appliedIndex: 0, leaderId: null, role: 'joining', leaderChanges: 0, voters: [], learners: [] }
  const st = d.raft.status() as any
  return {
    term: st.term,
    commitIndex: st.commit,
    appliedIndex: d.appliedIndex,
    leaderId: d.leaderId,
    role: st.role ?? (d.isLeader ? 'leader' : 'follower'),
    leaderChanges: d.leaderChanges,
    voters: d.conf.voters,
    learners: d.conf.learners,
    ...(core.halted !== undefined ? { halted: { ...core.halted } } : {}),
    ...(raft.storageDown !== undefined ? { storageDown: raft.storageDown } : {})
  }
}
