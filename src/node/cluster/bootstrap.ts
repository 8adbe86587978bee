// How a fresh node (empty Raft storage) decides between joining an existing cluster and forming a
// new one. Nodes that start together must agree without talking: every fresh node sorts the fresh
// peer ids it sees and the first `expect` of them form the cluster; everyone else joins it. A peer
// that already belongs to a cluster wins over everything: we join it.
import type { DeviceBid } from '../../sched/types.js'

export type BootstrapDecision = { kind: 'join' } | { kind: 'form', voters: string[] }

export interface BootstrapView {
  selfId: string
  expect: number
  /** fresh bids from the gossip table (our own excluded or not; both work) */
  bids: DeviceBid[]
  /** ms since this node started looking */
  elapsedMs: number
  /** wait at least this long so gossip can show us an existing cluster */
  settleMs: number
}

/** Pure: undefined = keep waiting. */
export function decideBootstrap (v: BootstrapView): BootstrapDecision | undefined {
  if (v.bids.some(b => b.nodeId !== v.selfId && b.cluster?.member === true)) return { kind: 'join' }
  if (v.elapsedMs < v.settleMs) return undefined
  const fresh = new Set<string>([v.selfId])
  for (const b of v.bids) if (b.cluster?.member !== true) fresh.add(b.nodeId)
  if (fresh.size < v.expect) return undefined
  const chosen = [...fresh].sort().slice(0, v.expect)
  return chosen.includes(v.selfId) ? { kind: 'form', voters: chosen } : { kind: 'join' }
}
