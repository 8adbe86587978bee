// The leader's placement logic, pure: given the replicated state and the latest device bids, which
// ready tasks go where now. The leader turns the answer into one 'assign' command (many assignments
// per Raft entry) and dispatches after commit.
//
// Work per call is bounded, however long the queue:
//  - tasks are walked in queue order and the walk stops at maxAssignments, at maxScan tasks, or as
//    soon as no device has a free slot left;
//  - tasks with the same requirements signature share one verdict within a call: in-flight counts
//    only grow during a call, so if no device could take the first, none can take the next. A
//    thousand identical unschedulable tasks cost one evaluation, not a thousand.
// In-flight assignments (made earlier and not yet visible in bids, plus those made in this call)
// count as load in both the free-slot check and the score, so a burst spreads over devices.

import type { ClusterState } from './state-machine.js'
import type { DeviceBid, TaskData } from './types.js'
import { matchRequirements, meetsRequirements } from './device.js'
import { scoreDevice } from './score.js'
import type { RateLimiter } from './rate-limit.js'

export interface PlanOptions {
  /** stop after this many assignments (one Raft entry's worth) */
  maxAssignments: number
  /** leader's assignments per device that the bids do not show yet; not mutated */
  inflightByDevice: ReadonlyMap<string, number>
  /** stop after looking at this many ready tasks. @default 20000 (a few ms of cached misses) */
  maxScan?: number
  /** stop after this many *distinct* consecutive misses (fresh evaluations). @default 256 */
  maxConsecutiveMisses?: number
  /** task ids to pass over: assignments already proposed to Raft but not applied yet */
  skip?: { has (id: string): boolean }
  /** record the reasons on the state (non-replicated pendingReason). @default true */
  setReasons?: boolean
  /**
   * Tasks that must not wait in a worker's queue (long or unknown running time): placed only where
   * activeTasks + in-flight is below the device's own slots, not its prefetch capacity.
   * @default none: every task may be prefetched
   */
  needsFreeSlot?: (task: TaskData) => boolean
  /** a device's own execution slots (bids' maxConcurrentTasks may include prefetch); by node id */
  slotsByDevice?: ReadonlyMap<string, number>
  /**
   * Cluster-wide rate limits (the leader's token buckets, see rate-limit.ts): a task whose type or
   * principal has no token left waits, with the limit as its pending reason; each assignment takes
   * a token. @default no limits
   */
  rateLimiter?: RateLimiter
}

export interface Assignment { taskId: string, attempt: number, deviceId: string }

export interface Plan {
  assignments: Assignment[]
  /** for ready tasks that no device could take now: why (readable, lists unmet requirements) */
  pendingReasons: Map<string, string>
}

/** Devices named in one reason; the rest are summarised as "+N more". */
const MAX_DEVICES_IN_REASON = 5

/** Per-task signature cache: a task's requirements never change while it is pending. */
const signatures = new WeakMap<TaskData, string>()

/** What decides placement: type, requirements, permissions, sandbox. Priority/payload do not. */
export function requirementsSignature (t: TaskData): string {
  let s = signatures.get(t)
  if (s === undefined) {
    s = t.taskType + '\u0000' + JSON.stringify(t.requirements) + '\u0000' + t.requiredPermissions.join(',') +
      '\u0000' + (t.sandboxConfig === undefined ? '' : JSON.stringify(t.sandboxConfig))
    signatures.set(t, s)
  }
  return s
}

export function planAssignments (state: ClusterState, bids: readonly DeviceBid[], now: number, opts: PlanOptions): Plan {
  const assignments: Assignment[] = []
  const pendingReasons = new Map<string, string>()
  const maxScan = opts.maxScan ?? 20_000
  const maxMisses = opts.maxConsecutiveMisses ?? 256
  const setReasons = opts.setReasons ?? true
  if (opts.maxAssignments <= 0) return { assignments, pendingReasons }

  // devices sorted by id: ties in score go to the smaller id, identically on every leader
  const devices = [...bids].sort((a, b) => a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0)
  const inflight = devices.map(d => opts.inflightByDevice.get(d.nodeId) ?? 0)
  const exclusiveTaken = devices.map(() => false)
  const hasSlot = (i: number): boolean => !exclusiveTaken[i] && devices[i].activeTasks + inflight[i] < devices[i].maxConcurrentTasks
  let freeDevices = 0
  for (let i = 0; i < devices.length; i++) if (hasSlot(i)) freeDevices++

  const verdicts = new Map<string, string>() // signature → reason no device can take it (this call)
  let scanned = 0
  let misses = 0
  const miss = (rec: { id: string }, reason: string): void => {
    pendingReasons.set(rec.id, reason)
    if (setReasons) state.setPendingReason(rec.id, reason)
  }

  for (const rec of state.readyIterator(now)) {
    if (assignments.length >= opts.maxAssignments || scanned >= maxScan || misses >= maxMisses) break
    scanned++
    if (opts.skip !== undefined && opts.skip.has(rec.id)) continue
    if (devices.length === 0) { miss(rec, 'no devices in the cluster have reported yet'); continue }
    if (freeDevices === 0) break // nothing can be placed until a slot frees; reasons would be noise
    const limited = opts.rateLimiter?.blocked(rec, now)
    if (limited !== undefined) { miss(rec, limited); continue }
    // signatures cost a JSON.stringify: only computed once some task has missed in this call
    if (verdicts.size > 0) {
      const known = verdicts.get(requirementsSignature(rec.task))
      if (known !== undefined) { miss(rec, known); continue }
    }

    const ownSlotOnly = opts.needsFreeSlot?.(rec.task) === true ? opts.slotsByDevice : undefined
    const pick = bestDevice(devices, inflight, exclusiveTaken, rec.task, ownSlotOnly)
    if (typeof pick === 'string') {
      verdicts.set(requirementsSignature(rec.task), pick)
      miss(rec, pick)
      misses++
      continue
    }
    misses = 0
    const wasFree = hasSlot(pick)
    inflight[pick]++
    if (rec.task.requirements.exclusive) exclusiveTaken[pick] = true
    if (wasFree && !hasSlot(pick)) freeDevices--
    assignments.push({ taskId: rec.id, attempt: rec.attempts.length + 1, deviceId: devices[pick].nodeId })
    opts.rateLimiter?.take(rec, now)
  }
  return { assignments, pendingReasons }
}

/** Index of the best device for `task`, or the reason none fits. */
function bestDevice (devices: readonly DeviceBid[], inflight: readonly number[], exclusiveTaken: readonly boolean[], task: TaskData,
  ownSlots?: ReadonlyMap<string, number>): number | string {
  let best = -1
  let bestScore = -Infinity
  let failures: Array<{ id: string, unmet: string[] }> | undefined
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i]
    if (exclusiveTaken[i]) { (failures ??= []).push({ id: deviceLabel(d), unmet: ['exclusive: device was just given an exclusive task'] }); continue }
    if (ownSlots !== undefined && d.activeTasks + inflight[i] >= (ownSlots.get(d.nodeId) ?? d.maxConcurrentTasks)) {
      // capable or not, this device has no idle slot for a task that must not wait behind others
      const m = matchRequirements(d, task, { inflight: inflight[i] })
      ;(failures ??= []).push({ id: deviceLabel(d), unmet: m.ok ? ['no free slot'] : m.unmet })
      continue
    }
    if (!meetsRequirements(d, task, inflight[i])) {
      // the reasons are only worked out on a miss: the common case allocates nothing
      const m = matchRequirements(d, task, { inflight: inflight[i] })
      ;(failures ??= []).push({ id: deviceLabel(d), unmet: m.ok ? [] : m.unmet })
      continue
    }
    const score = scoreDevice(d, task.requirements, inflight[i])
    if (score > bestScore) { best = i; bestScore = score }
  }
  return best >= 0 ? best : explain(task, failures ?? [])
}

/** A readable reason from each device's unmet requirements. */
export function explain (task: TaskData, failures: ReadonlyArray<{ id: string, unmet: readonly string[] }>): string {
  if (failures.length === 0) return 'no devices in the cluster have reported yet'
  const typeMsg = `task_type: device cannot run '${task.taskType}'`
  if (failures.every(f => f.unmet.includes(typeMsg))) return `no device can run task type '${task.taskType}'`
  const capable = failures.filter(f => !f.unmet.includes(typeMsg))
  // a device that fails only for lack of a free slot (or idleness, for exclusive work) will do later
  const busy = capable.filter(f => f.unmet.every(u => u === 'no free slot' || u.startsWith('exclusive:')))
  if (busy.length > 0) {
    return `waiting for a free slot: ${busy.length === 1 ? 'the 1 capable device is' : `all ${busy.length} capable devices are`} busy`
  }
  const shown = capable.slice(0, MAX_DEVICES_IN_REASON).map(f => `device ${f.id}: ${f.unmet.join(', ')}`)
  const more = capable.length > MAX_DEVICES_IN_REASON ? `; +${capable.length - MAX_DEVICES_IN_REASON} more` : ''
  const others = failures.length - capable.length
  const typeNote = others > 0 ? `; ${others} other device${others === 1 ? '' : 's'} cannot run '${task.taskType}'` : ''
  return shown.join('; ') + more + typeNote
}

/** how a device is named in pending reasons: its name and the tail of its peer id */
function deviceLabel (d: DeviceBid): string {
  return d.name === '' || d.name === d.nodeId ? d.nodeId : `${d.name} (…${d.nodeId.slice(-6)})`
}
