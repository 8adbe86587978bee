// An operator's drain of this device: the device monitor turns 'draining' (its bids say so, and the
// leader hands the running tasks off, leader/handoff.ts); with `wait`, the call returns once nothing
// of ours runs any more, or a little after the deadline.
import type { DrainStatus } from '../api-types.js'
import type { DeviceMonitor } from '../system/monitor.js'
import type { ClusterCore } from './core.js'

export interface DrainInit {
  selfId: string
  monitor: DeviceMonitor
  core: ClusterCore
  /** tasks the local executor still runs */
  executorActive: () => number
  now: () => number
}

/** default deadline of `drain` (Nomad's is 1 h; a phone's owner will not wait that long) */
export const DRAIN_DEADLINE_MS = 120_000
/** with `wait`: how long past the deadline to wait for the last hand-off to land */
const DRAIN_WAIT_SLACK_MS = 2000
const DRAIN_POLL_MS = 100

export async function drain (d: DrainInit, opts: { deadlineMs?: number, reason?: string, wait?: boolean } = {}): Promise<DrainStatus> {
  const deadlineMs = opts.deadlineMs ?? DRAIN_DEADLINE_MS
  d.monitor.drain(d.now(), deadlineMs, opts.reason)
  if (opts.wait === true) {
    const until = d.now() + deadlineMs + DRAIN_WAIT_SLACK_MS
    while (d.now() < until && (d.core.state.runningCount(d.selfId) > 0 || d.executorActive() > 0)) {
      await new Promise(resolve => setTimeout(resolve, DRAIN_POLL_MS))
    }
  }
  return drainStatus(d)
}

export function undrain (d: DrainInit): DrainStatus {
  d.monitor.undrain(d.now())
  return drainStatus(d)
}

export function drainStatus (d: DrainInit): DrainStatus {
  return { id: d.selfId, ...d.monitor.status(d.now()), runningTasks: d.core.state.runningCount(d.selfId) }
}
