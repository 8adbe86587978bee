// When a bid change is worth publishing now instead of at the next ~1 s heartbeat: anything that
// changes where the scheduler may place a task. Small CPU/memory jitter waits for the heartbeat.
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
