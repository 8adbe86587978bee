// Devices as the scheduler sees them: a gossiped DeviceBid (capabilities + load), a schema check for
// bids off the wire, and matchRequirements — the hard filter before scoring. Each unmet requirement
// becomes a short human string, so a task that no device can take gets a useful pendingReason.

import { DEVICE_ROLES, PLATFORMS } from './requirements.js'
import { PERMISSIONS } from './task.js'
import type { DeviceBid, SandboxConfigData, TaskData } from './types.js'
import {
  MAX_ARCH_LENGTH, MAX_BID_KEYS, MAX_CONCURRENT_TASKS, MAX_DEVICE_NAME_LENGTH, MAX_DEVICE_SENSORS, MAX_ID_LENGTH, MAX_LIST_ITEMS,
  MAX_SENSOR_NAME_LENGTH, MAX_TASK_TYPE_LENGTH, MAX_DEVICE_REASON_LENGTH, MAX_DRAIN_LEFT_MS
} from '../protocol/limits.js'


export type MatchResult = { ok: true } | { ok: false, unmet: string[] }

/** Shared frozen answer for the common case. */
const OK: MatchResult = Object.freeze({ ok: true })

export interface MatchOptions {
  /** assignments the leader made to this device that its bid does not show yet */
  inflight?: number
}

/**
 * Checks every hard requirement of `task` against `device`. Returns { ok: true } or every unmet one,
 * e.g. `min_cpu_cores: needs 4, device has 2`. timeoutSeconds and maxRetries are execution limits,
 * not device properties, so they are not checked here.
 */
export function matchRequirements (device: DeviceBid, task: TaskData, opts: MatchOptions = {}): MatchResult {
  const unmet: string[] = []
  checkRequirements(device, task, opts.inflight ?? 0, unmet)
  return unmet.length === 0 ? OK : { ok: false, unmet }
}

/** matchRequirements(...).ok without building reasons: stops at the first unmet one (rankDevices' hot path). */
export function meetsRequirements (device: DeviceBid, task: TaskData, inflight = 0): boolean {
  return checkRequirements(device, task, inflight, null)
}

/**
 * The one list of checks behind both functions above, so they cannot drift apart. With `u` null it
 * returns false at the first failure; with an array it records every failure there.
 */
function checkRequirements (d: DeviceBid, task: TaskData, inflight: number, u: string[] | null): boolean {
  const r = task.requirements
  if (d.device !== undefined && d.device.state !== 'active') { if (u === null) return false; u.push(`device: ${d.device.state}${d.device.reason !== undefined ? ` (${d.device.reason})` : ''}`) }
  if (r.excludeDevices.length > 0 && r.excludeDevices.includes(d.nodeId)) { if (u === null) return false; u.push('exclude_devices: device is excluded') }
  if (!d.taskTypes.includes(task.taskType)) { if (u === null) return false; u.push(`task_type: device cannot run '${task.taskType}'`) }
  if (d.cpuCores < r.minCpuCores) { if (u === null) return false; u.push(`min_cpu_cores: needs ${r.minCpuCores}, device has ${d.cpuCores}`) }
  if (d.memoryGb < r.minMemoryGb) { if (u === null) return false; u.push(`min_memory_gb: needs ${r.minMemoryGb}, device has ${d.memoryGb}`) }
  if (d.storageGb < r.minStorageGb) { if (u === null) return false; u.push(`min_storage_gb: needs ${r.minStorageGb}, device has ${d.storageGb}`) }
  if (r.requiredPlatform !== undefined && d.platform !== r.requiredPlatform) { if (u === null) return false; u.push(`required_platform: needs ${r.requiredPlatform}, device is ${d.platform}`) }
  if (r.requiredArch !== undefined && d.arch !== r.requiredArch) { if (u === null) return false; u.push(`required_arch: needs ${r.requiredArch}, device is ${d.arch}`) }
  if (r.requiredRole !== undefined && d.role !== r.requiredRole) { if (u === null) return false; u.push(`required_role: needs ${r.requiredRole}, device is ${d.role}`) }
  if (r.maxCpuUsage !== undefined && d.cpuUsage > r.maxCpuUsage) { if (u === null) return false; u.push(`max_cpu_usage: needs <= ${r.maxCpuUsage}%, device at ${d.cpuUsage}%`) }
  if (r.maxMemoryUsage !== undefined && d.memoryUsage > r.maxMemoryUsage) { if (u === null) return false; u.push(`max_memory_usage: needs <= ${r.maxMemoryUsage}%, device at ${d.memoryUsage}%`) }
  if (r.requiresInternet && !d.internet) { if (u === null) return false; u.push('requires_internet: device has no internet') }
  if (d.bandwidthMbps < r.bandwidthMbps) { if (u === null) return false; u.push(`bandwidth_mbps: needs ${r.bandwidthMbps}, device has ${d.bandwidthMbps}`) }
  if (r.requiresGpu && !d.gpu) { if (u === null) return false; u.push('requires_gpu: device has no gpu') }
  for (const s of r.requiresSensors) if (!d.sensors.includes(s)) { if (u === null) return false; u.push(`requires_sensors: device has no ${s}`) }
  for (const p of task.requiredPermissions) if (!d.permissions.includes(p)) { if (u === null) return false; u.push(`required_permissions: device does not grant ${p}`) }
  if (task.sandboxConfig !== undefined && !sandboxEnforceable(task.sandboxConfig, d.sandbox, u)) return false
  const busy = d.activeTasks + inflight
  if (d.exclusiveBusy === true) { if (u === null) return false; u.push('exclusive: device is running an exclusive task') } else if (r.exclusive && busy > 0) { if (u === null) return false; u.push(`exclusive: needs an idle device, device has ${busy} active`) }
  if (busy >= d.maxConcurrentTasks) { if (u === null) return false; u.push('no free slot') }
  return u === null || u.length === 0
}

/**
 * Can the device enforce the task's sandbox? Only what is restricted needs enforcing: allowNetwork
 * false, a memory limit > 0, a cpu limit < 100 %, and filesystem access that is off or confined to
 * allowedPaths. Same `u` convention as checkRequirements; returns false only when u is null.
 */
export function sandboxEnforceable (s: SandboxConfigData, sb: DeviceBid['sandbox'], u: string[] | null = null): boolean {
  if (!s.allowNetwork && !sb.network) { if (u === null) return false; u.push('sandbox: cannot block network access') }
  if (s.memoryLimitBytes > 0 && !sb.memory) { if (u === null) return false; u.push('sandbox: cannot enforce a memory limit') }
  if (s.cpuLimitPercent < 100 && !sb.cpu) { if (u === null) return false; u.push('sandbox: cannot enforce a cpu limit') }
  if ((!s.allowFilesystem || s.allowedPaths.length > 0) && !sb.filesystem) { if (u === null) return false; u.push('sandbox: cannot restrict filesystem access') }
  return true
}

// ---- bid schema (gossip input is untrusted) ----

/** Caps on bid sizes: a bid is gossiped every second by every node, so it must stay small. */
/** (Named as in src/protocol/limits.ts, their one definition.) */
export const BID_LIMITS = {
  maxIdLength: MAX_ID_LENGTH,
  maxNameLength: MAX_DEVICE_NAME_LENGTH,
  maxArchLength: MAX_ARCH_LENGTH,
  maxSensors: MAX_DEVICE_SENSORS,
  maxSensorLength: MAX_SENSOR_NAME_LENGTH,
  maxTaskTypes: MAX_LIST_ITEMS,
  maxTaskTypeLength: MAX_TASK_TYPE_LENGTH,
  maxConcurrentTasks: MAX_CONCURRENT_TASKS,
  maxKeys: MAX_BID_KEYS
} as const

const L = BID_LIMITS

function str (v: unknown, max: number): boolean { return typeof v === 'string' && v.length > 0 && v.length <= max }
function num (v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max
}
function int (v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): boolean { return num(v, min, max) && Number.isInteger(v) }
function bool (v: unknown): boolean { return typeof v === 'boolean' }
function strList (v: unknown, maxItems: number, maxLen: number): boolean {
  return Array.isArray(v) && v.length <= maxItems && v.every(s => str(s, maxLen))
}

/**
 * Why `x` is not a valid DeviceBid (first problem found), or undefined if it is. Unknown extra keys
 * are tolerated (a newer node may send more) but counted against maxKeys.
 */
export function bidProblem (x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return 'not an object'
  const b = x as Record<string, unknown>
  if (Object.keys(b).length > L.maxKeys) return 'too many fields'
  const checks: Array<[string, boolean]> = [
    ['nodeId', str(b.nodeId, L.maxIdLength)],
    ['name', str(b.name, L.maxNameLength)],
    ['incarnation', int(b.incarnation)],
    ['seq', int(b.seq)],
    ['role', (DEVICE_ROLES as readonly unknown[]).includes(b.role)],
    ['platform', (PLATFORMS as readonly unknown[]).includes(b.platform)],
    ['arch', str(b.arch, L.maxArchLength)],
    ['cpuCores', num(b.cpuCores, 0, 4096)],
    ['memoryGb', num(b.memoryGb, 0, 1 << 20)],
    ['storageGb', num(b.storageGb, 0, 1 << 30)],
    ['gpu', bool(b.gpu)],
    ['sensors', strList(b.sensors, L.maxSensors, L.maxSensorLength)],
    ['battery', b.battery === undefined || batteryOk(b.battery)],
    ['internet', bool(b.internet)],
    ['bandwidthMbps', num(b.bandwidthMbps, 0, 1_000_000)],
    ['taskTypes', strList(b.taskTypes, L.maxTaskTypes, L.maxTaskTypeLength)],
    ['permissions', Array.isArray(b.permissions) && b.permissions.length <= PERMISSIONS.length &&
      b.permissions.every(p => (PERMISSIONS as readonly unknown[]).includes(p))],
    ['sandbox', sandboxOk(b.sandbox)],
    ['cpuUsage', num(b.cpuUsage, 0, 100)],
    ['memoryUsage', num(b.memoryUsage, 0, 100)],
    ['memoryUsedGb', num(b.memoryUsedGb, 0, 1 << 20)],
    ['activeTasks', int(b.activeTasks, 0, 1 << 20)],
    ['maxConcurrentTasks', int(b.maxConcurrentTasks, 0, L.maxConcurrentTasks)],
    ['latencyMs', num(b.latencyMs, 0, 3_600_000)],
    ['exclusiveBusy', b.exclusiveBusy === undefined || bool(b.exclusiveBusy)],
    ['device', b.device === undefined || deviceStatusOk(b.device)]
  ]
  for (const [field, ok] of checks) if (!ok) return `bad or missing field ${field}`
  return undefined
}

function batteryOk (v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false
  const b = v as Record<string, unknown>
  return num(b.percent, 0, 100) && bool(b.charging)
}

const DEVICE_STATES: readonly unknown[] = ['active', 'cordoned', 'draining']

function deviceStatusOk (v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false
  const d = v as Record<string, unknown>
  return DEVICE_STATES.includes(d.state) && (d.reason === undefined || str(d.reason, MAX_DEVICE_REASON_LENGTH)) &&
    (d.drainLeftMs === undefined || num(d.drainLeftMs, 0, MAX_DRAIN_LEFT_MS))
}

function sandboxOk (v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false
  const s = v as Record<string, unknown>
  return bool(s.network) && bool(s.memory) && bool(s.cpu) && bool(s.filesystem)
}

/** Full schema check of an untrusted bid (types, enums, ranges, caps on strings and lists). */
export function isValidBid (x: unknown): x is DeviceBid {
  return bidProblem(x) === undefined
}
