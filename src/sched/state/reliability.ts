// The replicated reliability table: what each worker result does to its device's record (the
// formulas are in ../reliability.ts), the cluster-wide quarantine share, and poisoned tasks. Called
// from results.ts for every applied result and expire; drains, hand-offs, preemptions, refusals and
// device-down never reach it (they are not results), so they never count against a device.

import type { TaskAttempt, TaskRecord } from '../commands.js'
import type { TaskErrorData } from '../types.js'
import { MAX_RELIABILITY_DEVICES } from '../../protocol/limits.js'
import {
  blamedDevices, blamesDevice, forgive, healthAt, newDeviceReliability, quarantine, recordFailure, recordSuccess, reliabilityConfig,
  type DeviceReliability, type ReliabilityConfig
} from '../reliability.js'
import type { State } from './state.js'

export function reliabilityConfigOf (s: State): ReliabilityConfig { return reliabilityConfig(s.settings.reliability) }

function recordOf (s: State, deviceId: string, at: number): DeviceReliability {
  let r = s.reliability.get(deviceId)
  if (r === undefined) {
    if (s.reliability.size >= MAX_RELIABILITY_DEVICES) forgetStalest(s, at)
    r = newDeviceReliability(deviceId, at)
    s.reliability.set(deviceId, r)
  }
  return r
}

/** Drops the device heard from least recently that is not quarantined (ties: smaller id). */
function forgetStalest (s: State, at: number): void {
  let victim: DeviceReliability | undefined
  for (const r of s.reliability.values()) {
    if (healthAt(r, at) === 'quarantined') continue
    if (victim === undefined || r.lastAt < victim.lastAt || (r.lastAt === victim.lastAt && r.deviceId < victim.deviceId)) victim = r
  }
  if (victim !== undefined) s.reliability.delete(victim.deviceId)
}

export function onAttemptCompleted (s: State, rec: TaskRecord, att: TaskAttempt, at: number): void {
  recordSuccess(recordOf(s, att.deviceId, at), rec.taskType, at, reliabilityConfigOf(s))
}

/**
 * An attempt ended failed/timeout (att.status and att.error are set). Charges its device when the
 * failure is the device's kind, and quarantines it when that is due and the share allows. Once the
 * task has failed on poisonDevices distinct devices nobody is charged for it any more (the earlier
 * devices are forgiven), and if it would be retried (`retry`) the 'poisoned' error is returned: the
 * task must end with it instead. Without a retry left it ends with its own error, as before.
 */
export function onAttemptFailed (s: State, rec: TaskRecord, att: TaskAttempt, at: number, retry: boolean): TaskErrorData | undefined {
  if (!blamesDevice(att.status, att.error)) return undefined
  const cfg = reliabilityConfigOf(s)
  const devices = blamedDevices(rec)
  if (cfg.poisonDevices > 0 && devices.length >= cfg.poisonDevices) {
    for (const d of devices) {
      const r = s.reliability.get(d)
      if (r !== undefined && d !== att.deviceId) forgive(r, rec.taskType, rec.id)
    }
    if (!retry) return undefined
    return {
      type: 'poisoned',
      message: `task failed on ${devices.length} distinct devices (${devices.join(', ')}): the task is at fault, not the devices; last error: ${att.error?.message ?? att.status}`
    }
  }
  const r = recordOf(s, att.deviceId, at)
  if (recordFailure(r, rec.taskType, rec.id, at, cfg) && quarantineAllowed(s, r.deviceId, at, cfg)) quarantine(r, at, cfg)
  return undefined
}

/** At most maxQuarantinedFraction of the known devices (a result within knownDeviceMs) quarantined at once. */
function quarantineAllowed (s: State, deviceId: string, at: number, cfg: ReliabilityConfig): boolean {
  let known = 0
  let quarantined = 0
  for (const r of s.reliability.values()) {
    if (r.lastAt < at - cfg.knownDeviceMs && healthAt(r, at) !== 'quarantined') continue
    known++
    if (r.deviceId !== deviceId && healthAt(r, at) === 'quarantined') quarantined++
  }
  return quarantined + 1 <= Math.floor(known * cfg.maxQuarantinedFraction)
}
