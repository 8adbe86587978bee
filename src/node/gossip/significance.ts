// When a bid is worth publishing: at once on a change that moves where the scheduler may place a
// task (small CPU/memory jitter waits for the next refresh), and otherwise on a refresh whose period
// depends on whether anyone needs fresh news of this node (refreshMs).
import type { DeviceBid } from '../../sched/types.js'

/** percent points of CPU or memory usage that count as a real change */
export const USAGE_STEP = 15

export type BidFields = Omit<DeviceBid, 'nodeId' | 'incarnation' | 'seq'>

export function isSignificantChange (prev: BidFields, next: BidFields): boolean {
  if (prev.activeTasks !== next.activeTasks || prev.maxConcurrentTasks !== next.maxConcurrentTasks) return true
  if (prev.exclusiveBusy !== next.exclusiveBusy || prev.internet !== next.internet || prev.role !== next.role) return true
  if (Math.abs(prev.cpuUsage - next.cpuUsage) >= USAGE_STEP || Math.abs(prev.memoryUsage - next.memoryUsage) >= USAGE_STEP) return true
  if (prev.battery?.charging !== next.battery?.charging) return true
  if (prev.device?.state !== next.device?.state) return true // cordoned/draining: no new work from now on
  if (!sameList(prev.taskTypes, next.taskTypes) || !sameList(prev.permissions, next.permissions)) return true
  const pc = prev.cluster
  const nc = next.cluster
  if (pc?.member !== nc?.member || pc?.leaderId !== nc?.leaderId || pc?.term !== nc?.term) return true
  if (!sameList(prev.addrs ?? [], next.addrs ?? [])) return true
  return prev.apiUrl !== next.apiUrl
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * How often a bid with no significant change is published again. A node that runs tasks, is not a
 * Raft member yet (a fresh node looking for its cluster, a joining one) or is cordoned/draining
 * refreshes every `busyMs`; an idle active member every `idleMs`. Nobody needs an idle member's
 * bid for its liveness: the leader hears every member through Raft several times a second (its
 * placement and device-down rules read that, see ExecService.lastSeen), and its bid says nothing new.
 * Measured (3-node idle cluster, 30 s windows): each bid costs every node a signature, a verify and
 * about four socket writes between them; 1 s → 5 s took 0.8-1.0 % of a core off each idle node.
 */
export function refreshMs (bid: Pick<DeviceBid, 'activeTasks' | 'cluster' | 'device'>, busyMs: number, idleMs: number): number {
  const idle = bid.activeTasks === 0 && bid.cluster?.member === true && (bid.device === undefined || bid.device.state === 'active')
  return idle ? Math.max(busyMs, idleMs) : busyMs
}

/** How long a table keeps a bid unrefreshed: `ttlMs`, or three of its own refreshes if that is longer. */
export function bidTtlMs (bid: Pick<DeviceBid, 'activeTasks' | 'cluster' | 'device'>, ttlMs: number, busyMs: number, idleMs: number): number {
  return Math.max(ttlMs, 3 * refreshMs(bid, busyMs, idleMs))
}
