// How a fresh node (empty Raft storage) decides between joining an existing cluster and forming a
// new one. Nodes that start together must agree without talking: every fresh node sorts the fresh
// peer ids it sees and the first `expect` of them form the cluster; everyone else joins it. A peer
// that already belongs to a cluster wins over everything: we join it.
//
// How long to listen first: a node that has been told about others (bootstrap addresses) or has
// seen any (mDNS discovery, a connection, a bid) listens the full settle time, so it joins the
// cluster they may belong to instead of forming a second one (clusters never merge). A node that
// knows of no one only listens for the short quiet window: long enough for an mDNS answer from an
// existing node on the LAN, short enough that a lone node leads within a second. Nodes that start
// together stop listening early, after a shorter minimum, once every node they know of (connected
// peers, bootstrap addresses) has sent its bid and enough of them are fresh: then nothing known is
// left unheard, and waiting out the full settle time only delayed the first leader (issue 12).
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
  /**
   * true when another node is announced: bootstrap addresses are configured, or a peer was
   * discovered (mDNS), connected, or sent a bid. Absent = true (the cautious reading).
   */
  announced?: boolean
  /** the wait when nothing is announced (see the header) @default settleMs */
  quietSettleMs?: number
  /**
   * how many nodes this one knows of that have not sent a bid yet: connected peers without one,
   * and bootstrap addresses not heard from. Absent = unknown (the full settle time applies).
   */
  unheard?: number
  /** the least listening time once everyone known has spoken (bids go out every second) @default settleMs */
  minSettleMs?: number
}

/** The listening time that applies to this view. */
export function settleTimeMs (v: BootstrapView): number {
  const others = v.bids.some(b => b.nodeId !== v.selfId)
  if (v.announced === false && !others && v.quietSettleMs !== undefined) return Math.min(v.quietSettleMs, v.settleMs)
  if (v.unheard === 0 && v.minSettleMs !== undefined && freshIds(v).size >= v.expect) return Math.min(v.minSettleMs, v.settleMs)
  return v.settleMs
}

/** this node and every other that is in no cluster yet */
function freshIds (v: BootstrapView): Set<string> {
  const fresh = new Set<string>([v.selfId])
  for (const b of v.bids) if (b.cluster?.member !== true) fresh.add(b.nodeId)
  return fresh
}

/** Pure: undefined = keep waiting. */
export function decideBootstrap (v: BootstrapView): BootstrapDecision | undefined {
  if (v.bids.some(b => b.nodeId !== v.selfId && b.cluster?.member === true)) return { kind: 'join' }
  if (v.elapsedMs < settleTimeMs(v)) return undefined
  const fresh = freshIds(v)
  if (fresh.size < v.expect) return undefined
  const chosen = [...fresh].sort().slice(0, v.expect)
  return chosen.includes(v.selfId) ? { kind: 'form', voters: chosen } : { kind: 'join' }
}
