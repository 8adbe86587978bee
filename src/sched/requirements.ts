// TaskRequirements: what a device must have to run a task (hard constraints, checked by
// device.ts matchRequirements) plus execution limits (timeout, retries). Task files use the seed's
// snake_case (`min_cpu_cores`), TypeScript uses camelCase; both parse to TaskRequirementsData.

import { InvalidTaskSpecError } from './errors.js'
import {
  MAX_ARCH_LENGTH, MAX_EXCLUDE_DEVICES, MAX_REQUIRED_SENSORS, MAX_SENSOR_NAME_LENGTH, MAX_REQUIREMENT_STRING_LENGTH, MAX_RESULT_TTL_SECONDS, MAX_TASK_RETRIES, MAX_TASK_TIMEOUT_SECONDS
} from '../protocol/limits.js'
import type { DeviceRole, Platform, TaskRequirementsData } from './types.js'

export const PLATFORMS: readonly Platform[] = ['linux', 'android', 'windows', 'macos']
export const DEVICE_ROLES: readonly DeviceRole[] = ['compute', 'mobile', 'storage']

/** Caps on list and string sizes (a spec is untrusted input and must stay small), as named in
 *  src/protocol/limits.ts (their one definition, commented there). */
export const REQUIREMENT_LIMITS = {
  maxSensors: MAX_REQUIRED_SENSORS,
  maxExcludeDevices: MAX_EXCLUDE_DEVICES,
  maxStringLength: MAX_REQUIREMENT_STRING_LENGTH,
  maxTimeoutSeconds: MAX_TASK_TIMEOUT_SECONDS,
  maxRetries: MAX_TASK_RETRIES,
  maxResultTtlSeconds: MAX_RESULT_TTL_SECONDS
} as const

export function defaultRequirements (): TaskRequirementsData {
  return {
    minCpuCores: 1,
    minMemoryGb: 0,
    minStorageGb: 0,
    timeoutSeconds: 300,
    maxRetries: 3,
    requiresInternet: false,
    bandwidthMbps: 0,
    requiresGpu: false,
    requiresSensors: [],
    exclusive: false,
    excludeDevices: []
  }
}

// ---- field reading helpers, shared by sandbox.ts and task.ts ----

/** camelCase name → snake_case alias. */
export type FieldAliases = Record<string, string>

/** Any object with string keys (not an array, not null). */
export function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Reads `input`'s keys through `aliases` (camel or snake accepted). Unknown keys and the same field
 * given twice (`minCpuCores` and `min_cpu_cores`) are errors. `undefined` and `null` values count as
 * "not given". Returns camelName → [value, field path as the user wrote it].
 */
export function readFields (input: unknown, prefix: string, aliases: FieldAliases): Map<string, [unknown, string]> {
  if (!isPlainObject(input)) throw new InvalidTaskSpecError(prefix, `must be an object, got ${describe(input)}`)
  const out = new Map<string, [unknown, string]>()
  for (const key of Object.keys(input)) {
    const camel = Object.hasOwn(aliases, key) ? key : snakeToCamel(aliases, key)
    const path = prefix === '' ? key : `${prefix}.${key}`
    if (camel === undefined) throw new InvalidTaskSpecError(path, 'unknown field')
    if (out.has(camel)) throw new InvalidTaskSpecError(path, `given twice (also as ${out.get(camel)![1]})`)
    const value = input[key]
    if (value === undefined || value === null) continue
    out.set(camel, [value, path])
  }
  return out
}

function snakeToCamel (aliases: FieldAliases, key: string): string | undefined {
  for (const camel in aliases) if (aliases[camel] === key) return camel
  return undefined
}

export function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`
  if (typeof v === 'number') return `number ${v}`
  return typeof v
}

export interface NumberRule { min?: number, max?: number, integer?: boolean, minExclusive?: boolean }

export function readNumber (v: unknown, path: string, rule: NumberRule = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidTaskSpecError(path, `must be a finite number, got ${describe(v)}`)
  if (rule.integer === true && !Number.isInteger(v)) throw new InvalidTaskSpecError(path, `must be an integer, got ${v}`)
  if (rule.min !== undefined) {
    if (rule.minExclusive === true ? v <= rule.min : v < rule.min) {
      throw new InvalidTaskSpecError(path, `must be ${rule.minExclusive === true ? '>' : '>='} ${rule.min}, got ${v}`)
    }
  }
  if (rule.max !== undefined && v > rule.max) throw new InvalidTaskSpecError(path, `must be <= ${rule.max}, got ${v}`)
  return v
}

export function readBoolean (v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new InvalidTaskSpecError(path, `must be true or false, got ${describe(v)}`)
  return v
}

export function readString (v: unknown, path: string, maxLength: number = REQUIREMENT_LIMITS.maxStringLength): string {
  if (typeof v !== 'string') throw new InvalidTaskSpecError(path, `must be a string, got ${describe(v)}`)
  if (v.length === 0) throw new InvalidTaskSpecError(path, 'must not be empty')
  if (v.length > maxLength) throw new InvalidTaskSpecError(path, `must be at most ${maxLength} characters, got ${v.length}`)
  return v
}

export function readEnum<T extends string> (v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new InvalidTaskSpecError(path, `must be one of ${allowed.join(', ')}, got ${describe(v)}`)
  }
  return v as T
}

/** A list of strings, de-duplicated (order kept). `item` validates/narrows each element. */
export function readStringList<T extends string = string> (
  v: unknown, path: string, maxItems: number, item: (s: unknown, p: string) => T = (s, p) => readString(s, p) as T
): T[] {
  if (!Array.isArray(v)) throw new InvalidTaskSpecError(path, `must be a list, got ${describe(v)}`)
  if (v.length > maxItems) throw new InvalidTaskSpecError(path, `must have at most ${maxItems} items, got ${v.length}`)
  const out: T[] = []
  for (let i = 0; i < v.length; i++) {
    const s = item(v[i], `${path}[${i}]`)
    if (!out.includes(s)) out.push(s)
  }
  return out
}

// ---- requirements ----

const REQUIREMENT_ALIASES: FieldAliases = {
  minCpuCores: 'min_cpu_cores',
  minMemoryGb: 'min_memory_gb',
  minStorageGb: 'min_storage_gb',
  requiredPlatform: 'required_platform',
  requiredArch: 'required_arch',
  requiredRole: 'required_role',
  maxCpuUsage: 'max_cpu_usage',
  maxMemoryUsage: 'max_memory_usage',
  timeoutSeconds: 'timeout_seconds',
  maxRetries: 'max_retries',
  requiresInternet: 'requires_internet',
  bandwidthMbps: 'bandwidth_mbps',
  requiresGpu: 'requires_gpu',
  requiresSensors: 'requires_sensors',
  exclusive: 'exclusive',
  excludeDevices: 'exclude_devices',
  resultTtlSeconds: 'result_ttl_seconds'
}

type Reader = (v: unknown, path: string) => unknown
const L = REQUIREMENT_LIMITS
const READERS: Record<keyof TaskRequirementsData, Reader> = {
  minCpuCores: (v, p) => readNumber(v, p, { min: 0, max: 4096 }),
  minMemoryGb: (v, p) => readNumber(v, p, { min: 0, max: 1 << 20 }),
  minStorageGb: (v, p) => readNumber(v, p, { min: 0, max: 1 << 30 }),
  requiredPlatform: (v, p) => readEnum(v, p, PLATFORMS),
  requiredArch: (v, p) => readString(v, p, MAX_ARCH_LENGTH),
  requiredRole: (v, p) => readEnum(v, p, DEVICE_ROLES),
  maxCpuUsage: (v, p) => readNumber(v, p, { min: 0, max: 100 }),
  maxMemoryUsage: (v, p) => readNumber(v, p, { min: 0, max: 100 }),
  timeoutSeconds: (v, p) => readNumber(v, p, { min: 0, minExclusive: true, max: L.maxTimeoutSeconds }),
  maxRetries: (v, p) => readNumber(v, p, { min: 0, max: L.maxRetries, integer: true }),
  requiresInternet: readBoolean,
  bandwidthMbps: (v, p) => readNumber(v, p, { min: 0, max: 1_000_000 }),
  requiresGpu: readBoolean,
  requiresSensors: (v, p) => readStringList(v, p, L.maxSensors, (s, q) => readString(s, q, MAX_SENSOR_NAME_LENGTH)),
  exclusive: readBoolean,
  excludeDevices: (v, p) => readStringList(v, p, L.maxExcludeDevices),
  resultTtlSeconds: (v, p) => readNumber(v, p, { min: 0, max: L.maxResultTtlSeconds, integer: true })
}

/**
 * Validates a requirements object (camelCase or snake_case keys; missing keys take the defaults).
 * Throws InvalidTaskSpecError naming the field, e.g. `requirements.min_cpu_cores`.
 */
export function parseRequirements (input: unknown, fieldPrefix = 'requirements'): TaskRequirementsData {
  const fields = readFields(input, fieldPrefix, REQUIREMENT_ALIASES)
  const out = defaultRequirements() as unknown as Record<string, unknown>
  for (const [camel, [value, path]] of fields) {
    out[camel] = READERS[camel as keyof TaskRequirementsData](value, path)
  }
  return out as unknown as TaskRequirementsData
}

/** A deep copy (the two lists are the only nested parts). */
export function copyRequirements (r: TaskRequirementsData): TaskRequirementsData {
  return { ...r, requiresSensors: [...r.requiresSensors], excludeDevices: [...r.excludeDevices] }
}

/** The seed's TaskRequirements class: `new TaskRequirements({ min_cpu_cores: 4, required_platform: 'linux' })`. */
export class TaskRequirements implements TaskRequirementsData {
  declare minCpuCores: number
  declare minMemoryGb: number
  declare minStorageGb: number
  declare requiredPlatform?: Platform
  declare requiredArch?: string
  declare requiredRole?: DeviceRole
  declare maxCpuUsage?: number
  declare maxMemoryUsage?: number
  declare timeoutSeconds: number
  declare maxRetries: number
  declare requiresInternet: boolean
  declare bandwidthMbps: number
  declare requiresGpu: boolean
  declare requiresSensors: string[]
  declare exclusive: boolean
  declare excludeDevices: string[]
  declare resultTtlSeconds?: number

  constructor (init: Partial<TaskRequirementsData> | Record<string, unknown> = {}) {
    Object.assign(this, parseRequirements(init))
  }

  toData (): TaskRequirementsData {
    return copyRequirements(this)
  }
}
