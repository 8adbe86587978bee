// Device reliability, pure: decayed success/failure counts per device and per device × task type,
// the score the scheduler weighs, quarantine with a growing length, probation, and which failures a
// device is blamed for. The replicated state (state/reliability.ts) holds one DeviceReliability per
// device and calls these with the command's `at`; nothing here reads a clock.
//
// Where the defaults come from (../shared/research/device-aware.md §4 and §7b):
//  - decay 2^(−Δt/24 h) and R = (s+3)/(s+f+4), so a new device starts at 0.75 (our proposal);
//  - quarantine after 2 failures of DISTINCT tasks within 1 h: Spark's maxFailedTasksPerExecutor = 2
//    and its exclusion timeout of 1 h (HealthTracker.scala); the length doubles per repeat within
//    7 days, capped at 24 h (the exponential timeouts Spark's reviewers asked for, apache/spark#8760);
//  - after release a device is on probation: one task at a time (BOINC's quota drops to 1), and one
//    failure quarantines it again; its first success ends probation;
//  - never more than half the devices quarantined (SPARK-15865: exclusion hung small clusters);
//  - a task that failed on 3 distinct devices is poisoned: the task is at fault, not the devices.
//
// Decisions (quarantine, poison) depend only on integers and times, never on the decayed floats,
// so rounding can never make two replicas disagree about who is quarantined.

import { MAX_QUARANTINE_HISTORY, MAX_RECENT_FAILURES, MAX_RELIABILITY_TYPES_PER_DEVICE } from '../protocol/limits.js'
import type { TaskErrorData } from './types.js'
import type { TaskRecord } from './commands.js'

const HOUR_MS = 3_600_000

export interface ReliabilityConfig {
  /** counts halve every this long without news. @default 24 h (research §7b) */
  halfLifeMs: number
  /** share of the placement score that is reliability (the rest is the seed's score). @default 0.15 */
  weight: number
  /** failures of distinct tasks within quarantineWindowMs that quarantine a device (0 = never). @default 2 (Spark) */
  quarantineFailures: number
  /** @default 1 h */
  quarantineWindowMs: number
  /** first quarantine's length; each repeat within quarantineHistoryMs doubles it. @default 1 h (Spark) */
  quarantineBaseMs: number
  /** @default 24 h */
  quarantineMaxMs: number
  /** repeats counted over this long. @default 7 days */
  quarantineHistoryMs: number
  /** a task that failed on this many distinct devices is poisoned (0 = never). @default 3 */
  poisonDevices: number
  /** at most this share of the known devices quarantined at once (floor). @default 0.5 */
  maxQuarantinedFraction: number
  /** a device with no result for this long no longer counts as known for that share. @default 24 h */
  knownDeviceMs: number
}

export const DEFAULT_RELIABILITY: Readonly<ReliabilityConfig> = Object.freeze({
  halfLifeMs: 24 * HOUR_MS,
  weight: 0.15,
  quarantineFailures: 2,
  quarantineWindowMs: HOUR_MS,
  quarantineBaseMs: HOUR_MS,
  quarantineMaxMs: 24 * HOUR_MS,
  quarantineHistoryMs: 7 * 24 * HOUR_MS,
  poisonDevices: 3,
  maxQuarantinedFraction: 0.5,
  knownDeviceMs: 24 * HOUR_MS
})

/** Decayed counts as of `at`. */
export interface Counts { successes: number, failures: number, at: number }

/** One device's record in the replicated state (plain data: it goes into the snapshot as is). */
export interface DeviceReliability extends Counts {
  deviceId: string
  /** per task type, stalest dropped beyond MAX_RELIABILITY_TYPES_PER_DEVICE */
  types: Array<Counts & { type: string }>
  /** failures of distinct tasks within the quarantine window, oldest first */
  recent: Array<{ taskId: string, at: number }>
  /** start times of quarantines within quarantineHistoryMs, oldest first */
  quarantines: number[]
  quarantinedUntil?: number
  /** released from quarantine, not yet succeeded since: one task at a time, one failure re-quarantines */
  probation?: boolean
  /** last result of any kind (for the known-devices share) */
  lastAt: number
}

export type DeviceHealth = 'ok' | 'quarantined' | 'probation'

/** Error types that say nothing about the device: the task's own fault, or the cluster's doing. */
const NOT_THE_DEVICE: ReadonlySet<string> = new Set([
  'cancelled', 'device_failure', 'preempted', 'poisoned', // drain, hand-off, preemption, device down, cancel
  'invalid_payload', 'permission_denied', 'unsupported_operation' // the task asked for something wrong
])

/** Is an attempt that ended with this status and error the device's fault? */
export function blamesDevice (status: string, error: TaskErrorData | undefined): boolean {
  if (status !== 'failed' && status !== 'timeout') return false
  return error === undefined || !NOT_THE_DEVICE.has(error.type)
}

/** Distinct devices whose attempts of rec ended with a failure blamed on them, in attempt order. */
export function blamedDevices (rec: TaskRecord): string[] {
  const out: string[] = []
  for (const a of rec.attempts) if (a.refused !== true && blamesDevice(a.status, a.error) && !out.includes(a.deviceId)) out.push(a.deviceId)
  return out
}

export function newDeviceReliability (deviceId: string, at: number): DeviceReliability {
  return { deviceId, successes: 0, failures: 0, at, types: [], recent: [], quarantines: [], lastAt: at }
}

/** Brings counts forward to `at` (never backwards: a leader whose clock is behind decays nothing). */
export function decay (c: Counts, at: number, halfLifeMs: number): void {
  if (!(at > c.at)) return
  if (halfLifeMs > 0) {
    const f = Math.pow(2, -(at - c.at) / halfLifeMs)
    c.successes *= f
    c.failures *= f
  }
  c.at = at
}

/** R = (s+3)/(s+f+4): 0.75 for a device never seen, towards 1 with successes, towards 0 with failures. */
export function reliabilityScore (c: Counts | undefined): number {
  if (c === undefined) return 0.75
  return (c.successes + 3) / (c.successes + c.failures + 4)
}

/** Counts as of `now` without changing the record (queries). */
export function countsAt (c: Counts, now: number, halfLifeMs: number): Counts {
  const copy = { successes: c.successes, failures: c.failures, at: c.at }
  decay(copy, now, halfLifeMs)
  return copy
}

export function healthAt (r: DeviceReliability | undefined, now: number): DeviceHealth {
  if (r === undefined) return 'ok'
  if (r.quarantinedUntil !== undefined && r.quarantinedUntil > now) return 'quarantined'
  return r.probation === true ? 'probation' : 'ok'
}

/** The score for placing a task of `type`: the device's R and its R for that type, averaged. */
export function placementReliability (r: DeviceReliability | undefined, type: string, now: number, cfg: ReliabilityConfig): number {
  if (r === undefined) return reliabilityScore(undefined)
  const t = r.types.find(x => x.type === type)
  const dev = reliabilityScore(countsAt(r, now, cfg.halfLifeMs))
  return (dev + reliabilityScore(t === undefined ? undefined : countsAt(t, now, cfg.halfLifeMs))) / 2
}

function typeCounts (r: DeviceReliability, type: string, at: number): Counts {
  let t = r.types.find(x => x.type === type)
  if (t === undefined) {
    if (r.types.length >= MAX_RELIABILITY_TYPES_PER_DEVICE) {
      let stalest = 0
      for (let i = 1; i < r.types.length; i++) if (r.types[i].at < r.types[stalest].at) stalest = i
      r.types.splice(stalest, 1)
    }
    t = { type, successes: 0, failures: 0, at }
    r.types.push(t)
  }
  return t
}

/** the device's and the device × type's counts, both decayed to `at` */
function decayedCounts (r: DeviceReliability, type: string, at: number, cfg: ReliabilityConfig): Counts {
  decay(r, at, cfg.halfLifeMs)
  const t = typeCounts(r, type, at)
  decay(t, at, cfg.halfLifeMs)
  if (at > r.lastAt) r.lastAt = at
  return t
}

export function recordSuccess (r: DeviceReliability, type: string, at: number, cfg: ReliabilityConfig): void {
  const t = decayedCounts(r, type, at, cfg)
  r.successes += 1
  t.successes += 1
  // a success after release ends probation (never during a quarantine: its own late result)
  if (r.probation === true && healthAt(r, at) === 'probation') delete r.probation
}

/**
 * A failure of `taskId` blamed on the device. Returns true when it should be quarantined now: it is
 * on probation, or this makes quarantineFailures distinct tasks within the window. The caller
 * checks the cluster-wide share and calls quarantine().
 */
export function recordFailure (r: DeviceReliability, type: string, taskId: string, at: number, cfg: ReliabilityConfig): boolean {
  const t = decayedCounts(r, type, at, cfg)
  r.failures += 1
  t.failures += 1
  const health = healthAt(r, at)
  if (health === 'quarantined') return false // its work from before the quarantine: already counted
  pruneRecent(r, at, cfg)
  if (!r.recent.some(x => x.taskId === taskId)) {
    if (r.recent.length >= MAX_RECENT_FAILURES) r.recent.shift()
    r.recent.push({ taskId, at })
  }
  if (cfg.quarantineFailures <= 0) return false // quarantine turned off
  return health === 'probation' || r.recent.length >= cfg.quarantineFailures
}

function pruneRecent (r: DeviceReliability, at: number, cfg: ReliabilityConfig): void {
  const from = at - cfg.quarantineWindowMs
  while (r.recent.length > 0 && r.recent[0].at < from) r.recent.shift()
}

/** How long the next quarantine lasts: base × 2^(k−1), k = this one and those in the last 7 days. */
export function quarantineLengthMs (r: DeviceReliability, at: number, cfg: ReliabilityConfig): number {
  const from = at - cfg.quarantineHistoryMs
  const k = r.quarantines.filter(t => t >= from).length + 1
  return Math.min(cfg.quarantineMaxMs, cfg.quarantineBaseMs * Math.pow(2, Math.min(k - 1, 40)))
}

export function quarantine (r: DeviceReliability, at: number, cfg: ReliabilityConfig): void {
  const lengthMs = quarantineLengthMs(r, at, cfg)
  const from = at - cfg.quarantineHistoryMs
  while (r.quarantines.length > 0 && (r.quarantines[0] < from || r.quarantines.length >= MAX_QUARANTINE_HISTORY)) r.quarantines.shift()
  r.quarantines.push(at)
  r.quarantinedUntil = at + lengthMs
  r.recent = []
  r.probation = true
}

/** A poisoned task's earlier failures no longer count towards quarantining the devices it ran on. */
export function forgive (r: DeviceReliability, type: string, taskId: string): void {
  const before = r.recent.length
  r.recent = r.recent.filter(x => x.taskId !== taskId)
  if (r.recent.length === before) return
  r.failures = Math.max(0, r.failures - 1)
  const t = r.types.find(x => x.type === type)
  if (t !== undefined) t.failures = Math.max(0, t.failures - 1)
}

/** The config with a partial override (the replicated settings), invalid fields ignored. */
export function reliabilityConfig (patch: Partial<ReliabilityConfig> | undefined): ReliabilityConfig {
  if (patch === undefined) return DEFAULT_RELIABILITY
  const out: ReliabilityConfig = { ...DEFAULT_RELIABILITY }
  for (const k of Object.keys(DEFAULT_RELIABILITY) as Array<keyof ReliabilityConfig>) {
    const v = patch[k]
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[k] = v
  }
  return out
}
