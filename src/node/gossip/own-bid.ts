// What this node announces about itself in every bid: its capabilities, its load sampled now, how
// many slots its device policy leaves, its view of Raft, and where it can be reached (API and
// libp2p addresses: peers that met through a third node dial each other from these). The bid
// gossip calls it about once a second and on every poke().
import type { DeviceCapabilities } from '../system/sample.js'
import type { TaskExecutor } from '../executor/executor.js'
import type { DeviceMonitor } from '../system/monitor.js'
import type { BidFields } from './significance.js'

/** how many of this node's addresses a bid carries (a bid has a size cap; the first ones are the useful ones) */
const MAX_BID_ADDRS = 8
// passed-on peers stay far below the 16 KiB bid cap even beside 8 own addresses of the longest kind:
// 16 × (id + 3 × 128) ≈ 7 KiB
const MAX_BID_PEERS = 16
const MAX_PEER_ADDRS = 3
const MAX_PEER_ADDR_LENGTH = 128

export interface OwnBidInit {
  name: string
  caps: DeviceCapabilities
  permissions: BidFields['permissions']
  sampleLoad: () => { cpuUsage: number, memoryUsage: number, memoryUsedGb: number }
  executor: Pick<TaskExecutor, 'capabilities' | 'activeCount' | 'maxConcurrentTasks'>
  monitor: Pick<DeviceMonitor, 'slots' | 'status' | 'bidBattery'>
  raft: { readonly isLeader: boolean, readonly member: boolean, readonly leaderId: string | null, readonly term: number }
  /** round trip to the leader (ms); a leader reports 0 */
  latencyMs: () => number
  apiUrl: () => string | undefined
  multiaddrs: () => string[]
  /** connected peers and the addresses their bids announced (passed on: see DeviceBid.peers) */
  peers?: () => Array<{ id: string, addrs: string[] }>
  now: () => number
}

export function ownBid (d: OwnBidInit): () => BidFields {
  return () => {
    const load = d.sampleLoad()
    const exec = d.executor.capabilities()
    const bid: BidFields = {
      ...d.caps,
      name: d.name,
      taskTypes: exec.taskTypes,
      permissions: d.permissions,
      sandbox: exec.sandbox,
      cpuUsage: load.cpuUsage,
      memoryUsage: load.memoryUsage,
      memoryUsedGb: load.memoryUsedGb,
      activeTasks: d.executor.activeCount,
      maxConcurrentTasks: d.monitor.slots(d.executor.maxConcurrentTasks),
      device: d.monitor.status(d.now()),
      latencyMs: d.raft.isLeader ? 0 : Math.round(d.latencyMs()),
      cluster: { member: d.raft.member, leaderId: d.raft.leaderId, term: d.raft.term }
    }
    const battery = d.monitor.bidBattery()
    if (battery !== undefined) bid.battery = battery
    const url = d.apiUrl()
    if (url !== undefined) bid.apiUrl = url
    bid.addrs = d.multiaddrs().slice(0, MAX_BID_ADDRS)
    const peers = d.peers?.()
      .map(p => ({ id: p.id, addrs: p.addrs.filter(a => a.length <= MAX_PEER_ADDR_LENGTH).slice(0, MAX_PEER_ADDRS) }))
      .filter(p => p.addrs.length > 0)
      .slice(0, MAX_BID_PEERS)
    if (peers !== undefined && peers.length > 0) bid.peers = peers
    return bid
  }
}
