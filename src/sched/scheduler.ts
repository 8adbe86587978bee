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
//
// Reliability (reliability.ts, replicated in the state): a quarantined device gets no new work (its
// name and release time go into the pending reason), a device on probation gets one task at a time,
// and the score is (1 − w) × the seed's score + w × the device's reliability for the task's type
// (w = 0.15 by default), minus 1 on a device where this task already failed (Nomad's reschedule
// penalty), so a retry goes elsewhere whenever another device can take it.
//
// Locality (Ray's hybrid policy: the local node until it is half busy): the leader keeps a task for
// itself when it can run it, fewer than half of its own slots are taken, and its score is no more
// than LOCAL_SCORE_MARGIN below the best device's. A task run where it is placed skips the dispatch
// and result hops between processes (~1 ms of a task's ~4 ms on the bench's 3-node loopback
// cluster); under load the leader's slots fill and work spreads by score as before.

import type { ClusterState } from './state-machine.js'
import type { TaskRecord } from './commands.js'
import type { DeviceBid, TaskData } from './types.js'
import { matchRequirements, meetsRequirements } from './device.js'
import { scoreDevice } from './score.js'
import type { RateLimiter } from './rate-limit.js'
import { blamedDevices } from './reliability.js'

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
  /**
   * Plan these records, in this order, instead of the state's ready queue: the leader placing the
   * tasks of submissions it is about to propose (not in the state yet). @default the ready queue
   */
  candidates?: Iterable<TaskRecord>
  /** the device the planner runs on (the leader): preferred while half idle (see Locality above). @default none */
  localDeviceId?: string
}

/** the local device keeps a task while fewer than this share of its own slots are taken ... */
export const LOCAL_BUSY_SHARE = 0.5
/** ... and its score is at most this much below the best device's (scores are in [0, 1]) */
export const LOCAL_SCORE_MARGIN = 0.1

/** relaxed: a failover clone goes back to a device its chain failed on (see bestDevice) */
export interface Assignment { taskId: string, attempt: number, deviceId: string, relaxed?: boolean }

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
      '\u0000' + (t.sandboxConfig === undefined ? '' : JSON.stringify(t.sandboxConfig)) +
      (t.failedOn === undefined ? '' : '\u0000' + t.failedOn.join(','))
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
  const sorted = [...bids].sort((a, b) => a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0)
  const rel = reliabilityView(state, sorted, now)
  const devices = rel.devices
  const inflight = devices.map(d => opts.inflightByDevice.get(d.nodeId) ?? 0)
  const exclusiveTaken = devices.map(() => false)
  const local = opts.localDeviceId === undefined ? undefined : localPreference(devices, opts.localDeviceId, opts.slotsByDevice)
  const hasSlot = (i: number): boolean => rel.quarantined[i] === undefined && !exclusiveTaken[i] && devices[i].activeTasks + inflight[i] < devices[i].maxConcurrentTasks
  let freeDevices = 0
  for (let i = 0; i < devices.length; i++) if (hasSlot(i)) freeDevices++

  const verdicts = new Map<string, string>() // signature → reason no device can take it (this call)
  let scanned = 0
  let misses = 0
  const miss = (rec: { id: string }, reason: string): void => {
    pendingReasons.set(rec.id, reason)
    if (setReasons) state.setPendingReason(rec.id, reason)
  }

  for (const rec of opts.candidates ?? state.readyIterator(now)) {
    if (assignments.length >= opts.maxAssignments || scanned >= maxScan || misses >= maxMisses) break
    scanned++
    if (opts.skip !== undefined && opts.skip.has(rec.id)) continue
    if (devices.length === 0) { miss(rec, 'no devices in the cluster have reported yet'); continue }
    // nothing can be placed until a slot frees; reasons would be noise (but say why a quarantine waits)
    if (freeDevices === 0 && rel.quarantined.length === 0) break
    const limited = opts.rateLimiter?.blocked(rec, now)
    if (limited !== undefined) { miss(rec, limited); continue }
    // signatures cost a JSON.stringify: only computed once some task has missed in this call
    if (verdicts.size > 0) {
      const known = verdicts.get(requirementsSignature(rec.task))
      if (known !== undefined) { miss(rec, known); continue }
    }

    const ownSlotOnly = opts.needsFreeSlot?.(rec.task) === true ? opts.slotsByDevice : undefined
    const found = bestDevice(devices, inflight, exclusiveTaken, rec.task, ownSlotOnly, rel.score(rec, now), rel.quarantined, local)
    if (typeof found === 'string') {
      verdicts.set(requirementsSignature(rec.task), found)
      miss(rec, found)
      misses++
      continue
    }
    misses = 0
    const pick = typeof found === 'number' ? found : found.relaxed
    const wasFree = hasSlot(pick)
    inflight[pick]++
    if (rec.task.requirements.exclusive) exclusiveTaken[pick] = true
    if (wasFree && !hasSlot(pick)) freeDevices--
    assignments.push(typeof found === 'number'
      ? { taskId: rec.id, attempt: rec.attempts.length + 1, deviceId: devices[pick].nodeId }
      : { taskId: rec.id, attempt: rec.attempts.length + 1, deviceId: devices[pick].nodeId, relaxed: true })
    opts.rateLimiter?.take(rec, now)
  }
  return { assignments, pendingReasons }
}

interface ReliabilityView {
  /** the bids, a device on probation capped at one task */
  devices: DeviceBid[]
  /** by device index: why it is quarantined, or undefined */
  quarantined: Array<string | undefined>
  /** the score of device i for rec: the seed's score blended with reliability, minus a penalty */
  score: (rec: TaskRecord, now: number) => (i: number, base: number) => number
}

function reliabilityView (state: ClusterState, sorted: DeviceBid[], now: number): ReliabilityView {
  if (!state.hasReliability) return { devices: sorted, quarantined: [], score: () => PLAIN_SCORE }
  const w = state.reliabilityConfig().weight
  const quarantined: Array<string | undefined> = []
  const devices = sorted.map((d, i) => {
    const health = state.deviceHealth(d.nodeId, now)
    if (health === 'quarantined') {
      const until = state.deviceReliability(now, d.nodeId)[0]?.quarantinedUntil ?? now
      quarantined[i] = `quarantined: failed distinct tasks repeatedly, released in ${Math.ceil((until - now) / 60_000)} min`
    }
    return health === 'probation' && d.maxConcurrentTasks > 1 ? { ...d, maxConcurrentTasks: 1 } : d
  })
  return {
    devices,
    quarantined,
    score: (rec, at) => {
      const failedOn = rec.attempts.length > 0 ? blamedDevices(rec) : undefined
      return (i, base) => (1 - w) * base + w * state.placementReliability(devices[i].nodeId, rec.taskType, at) -
        (failedOn !== undefined && failedOn.includes(devices[i].nodeId) ? 1 : 0)
    }
  }
}

const PLAIN_SCORE = (_i: number, base: number): number => base

/**
 * Index of the best device for `task`, { relaxed: index } for a failover clone sent back to a device
 * its chain failed on, or the reason none fits.
 */
function bestDevice (devices: readonly DeviceBid[], inflight: readonly number[], exclusiveTaken: readonly boolean[], task: TaskData,
  ownSlots: ReadonlyMap<string, number> | undefined, score: (i: number, base: number) => number, quarantined: ReadonlyArray<string | undefined> = [],
  local?: LocalPreference): number | string | { relaxed: number } {
  let best = -1
  let bestScore = -Infinity
  let localScore = -Infinity
  let failures: Array<{ id: string, unmet: string[], failedOn?: boolean }> | undefined
  // A quarantined device is the last resort of a failover clone whose exclusions leave it nothing
  // else: a clone excludes every device its chain was declared down on (maybe cut off for a few
  // seconds), and in a small cluster the rest may be quarantined; it ran nowhere for the hour of
  // the quarantine (sim seeds 428, 1218, 1368). A user's own exclude_devices (pinning a task to a
  // device) and a cluster with no excluded device alive keep the quarantine.
  let lastResort = -1
  let lastResortScore = -Infinity
  // A failover clone excludes every device its chain was declared down on; after a few leader kills
  // in a small cluster that is every device, and it waited forever (soak seed 51: three devices,
  // three failovers). It may go back to one of them (`failedOn`, never the user's exclusions) when
  // no other device could ever take it, busy ones included: a busy capable device is waited for.
  let back = -1
  let backScore = -Infinity
  let withoutFailedOn: TaskData | undefined
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i]
    const q = quarantined[i]
    if (q !== undefined) {
      (failures ??= []).push({ id: deviceLabel(d), unmet: [q] })
      if (!exclusiveTaken[i] && (ownSlots === undefined || d.activeTasks + inflight[i] < (ownSlots.get(d.nodeId) ?? d.maxConcurrentTasks)) && meetsRequirements(d, task, inflight[i])) {
        const s = score(i, scoreDevice(d, task.requirements, inflight[i]))
        if (s > lastResortScore) { lastResort = i; lastResortScore = s }
      }
      continue
    }
    if (exclusiveTaken[i]) { (failures ??= []).push({ id: deviceLabel(d), unmet: ['exclusive: device was just given an exclusive task'], failedOn: task.failedOn?.includes(d.nodeId) === true }); continue }
    if (ownSlots !== undefined && d.activeTasks + inflight[i] >= (ownSlots.get(d.nodeId) ?? d.maxConcurrentTasks)) {
      // capable or not, this device has no idle slot for a task that must not wait behind others
      const m = matchRequirements(d, task, { inflight: inflight[i] })
      ;(failures ??= []).push({ id: deviceLabel(d), unmet: m.ok ? ['no free slot'] : m.unmet })
      continue
    }
    if (!meetsRequirements(d, task, inflight[i])) {
      // the reasons are only worked out on a miss: the common case allocates nothing
      const m = matchRequirements(d, task, { inflight: inflight[i] })
      const failedHere = task.failedOn?.includes(d.nodeId) === true
      ;(failures ??= []).push({ id: deviceLabel(d), unmet: m.ok ? [] : m.unmet, failedOn: failedHere })
      if (failedHere && meetsRequirements(d, withoutFailedOn ??= dropFailedOn(task), inflight[i])) {
        const s = score(i, scoreDevice(d, task.requirements, inflight[i]))
        if (s > backScore) { back = i; backScore = s }
      }
      continue
    }
    const s = score(i, scoreDevice(d, task.requirements, inflight[i]))
    if (s > bestScore) { best = i; bestScore = s }
    if (local !== undefined && i === local.index && d.activeTasks + inflight[i] < local.maxBusy) localScore = s
  }
  if (local !== undefined && best >= 0 && localScore >= bestScore - LOCAL_SCORE_MARGIN) return local.index
  if (best < 0 && back >= 0 && !otherCapable(failures ?? [])) return { relaxed: back }
  if (best < 0 && lastResort >= 0 && task.replaces !== undefined && excludedOnly(failures ?? [])) return lastResort
  return best >= 0 ? best : explain(task, failures ?? [])
}

interface LocalPreference { index: number, maxBusy: number }

/** the local device's index among `devices` and how many tasks it may hold and still be preferred */
function localPreference (devices: readonly DeviceBid[], id: string, ownSlots: ReadonlyMap<string, number> | undefined): LocalPreference | undefined {
  const index = devices.findIndex(d => d.nodeId === id)
  if (index < 0) return undefined
  const slots = ownSlots?.get(id) ?? devices[index]!.maxConcurrentTasks
  return { index, maxBusy: slots * LOCAL_BUSY_SHARE }
}

/** task without the exclusions its failover chain added (the user's own stay) */
function dropFailedOn (task: TaskData): TaskData {
  const failed = task.failedOn ?? []
  return { ...task, requirements: { ...task.requirements, excludeDevices: task.requirements.excludeDevices.filter(x => !failed.includes(x)) } }
}

/** some device outside the clone's failedOn lacks only a free slot (or idleness): wait for it */
function otherCapable (failures: ReadonlyArray<{ unmet: readonly string[], failedOn?: boolean }>): boolean {
  return failures.some(f => f.failedOn !== true && f.unmet.length > 0 && f.unmet.every(u => u === 'no free slot' || u.startsWith('exclusive:')))
}

const EXCLUDED = 'exclude_devices: device is excluded'

/** every device that is not quarantined was turned down only because the task excludes it (and some was) */
function excludedOnly (failures: ReadonlyArray<{ unmet: readonly string[] }>): boolean {
  let excluded = 0
  for (const f of failures) {
    if (f.unmet.length === 1 && f.unmet[0]!.startsWith('quarantined:')) continue
    if (!f.unmet.includes(EXCLUDED)) return false
    excluded++
  }
  return excluded > 0
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
