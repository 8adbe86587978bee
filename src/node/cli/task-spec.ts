// Builds a task spec (the seed's snake_case names, which the scheduler accepts) from `submit` flags
// and/or a task file. Flags override the file.

import { readDataFile, jsonArg, isObject } from './files.js'
import { UsageError } from './errors.js'
import { MSG } from './messages.js'

export interface SubmitFlags {
  file?: string
  payload?: string
  priority?: string
  minCpuCores?: number
  minMemoryGb?: number
  minStorageGb?: number
  platform?: string
  arch?: string
  role?: string
  maxCpuUsage?: number
  maxMemoryUsage?: number
  timeout?: number
  maxRetries?: number
  requiresInternet?: boolean
  requiresGpu?: boolean
  bandwidthMbps?: number
  sensors?: string[]
  exclusive?: boolean
  excludeDevices?: string[]
  permissions?: string[]
}

/** flag → requirements field (snake_case, as in the seed) */
const REQUIREMENT_FLAGS: Array<[keyof SubmitFlags, string]> = [
  ['minCpuCores', 'min_cpu_cores'], ['minMemoryGb', 'min_memory_gb'], ['minStorageGb', 'min_storage_gb'],
  ['platform', 'required_platform'], ['arch', 'required_arch'], ['role', 'required_role'],
  ['maxCpuUsage', 'max_cpu_usage'], ['maxMemoryUsage', 'max_memory_usage'], ['timeout', 'timeout_seconds'],
  ['maxRetries', 'max_retries'], ['requiresInternet', 'requires_internet'], ['requiresGpu', 'requires_gpu'],
  ['bandwidthMbps', 'bandwidth_mbps'], ['sensors', 'requires_sensors'], ['exclusive', 'exclusive'],
  ['excludeDevices', 'exclude_devices']
]

export async function buildTaskSpec (type: string | undefined, flags: SubmitFlags): Promise<Record<string, unknown>> {
  let spec: Record<string, unknown> = {}
  if (flags.file !== undefined) {
    const loaded = await readDataFile(flags.file)
    if (!isObject(loaded)) throw new UsageError(`${flags.file} must hold one task (a mapping with task_type, payload, ...)`)
    spec = loaded
  }
  if (type !== undefined) {
    delete spec.taskType
    spec.task_type = type
  }
  if (spec.task_type === undefined && spec.taskType === undefined) throw new UsageError(MSG.errNoType)
  if (flags.payload !== undefined) spec.payload = await jsonArg(flags.payload, '--payload')
  if (flags.priority !== undefined) spec.priority = /^\d$/.test(flags.priority) ? Number(flags.priority) : flags.priority
  if (flags.permissions !== undefined) spec.required_permissions = flags.permissions
  const fromFile = spec.requirements ?? spec.requirements
  const requirements: Record<string, unknown> = isObject(fromFile) ? { ...fromFile } : {}
  for (const [flag, field] of REQUIREMENT_FLAGS) {
    if (flags[flag] !== undefined) requirements[field] = flags[flag]
  }
  if (Object.keys(requirements).length > 0) spec.requirements = requirements
  return spec
}
