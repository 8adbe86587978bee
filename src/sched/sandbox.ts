// SandboxConfig: limits the executor enforces around one task. Accepts the seed's shape
// (`max_file_size: "100MB"`, `memory_limit: "2GB"`, `cpu_limit: 80`) and our camelCase one with
// explicit units (`maxFileSizeBytes`, `memoryLimitBytes`, `cpuLimitPercent`).
//
// Defaults are the safe side: no network, no filesystem unless asked for. "No limit" values are
// memoryLimitBytes 0 and cpuLimitPercent 100 — a device only has to enforce what is limited (see
// device.ts sandboxUnmet).

import { InvalidTaskSpecError } from './errors.js'
import { describe, readBoolean, readFields, readNumber, readString, readStringList, type FieldAliases } from './requirements.js'
import type { SandboxConfigData } from './types.js'
import { MAX_SANDBOX_SIZE_BYTES } from '../protocol/limits.js'


const MiB = 1024 * 1024
const UNITS: Record<string, number> = {
  B: 1, KB: 1024, K: 1024, KIB: 1024, MB: MiB, M: MiB, MIB: MiB,
  GB: 1024 * MiB, G: 1024 * MiB, GIB: 1024 * MiB, TB: 1024 * 1024 * MiB, T: 1024 * 1024 * MiB, TIB: 1024 * 1024 * MiB
}
const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/

export function defaultSandboxConfig (): SandboxConfigData {
  return {
    allowNetwork: false,
    allowFilesystem: false,
    allowedPaths: [],
    maxFileSizeBytes: 100 * MiB,   // the seed's example value
    maxExecutionTimeSeconds: 300,  // = the default requirements.timeoutSeconds
    memoryLimitBytes: 0,           // 0 = no memory limit
    cpuLimitPercent: 100           // 100 = no cpu limit
  }
}

/** "100MB", "2 GB", "512k", "1.5GiB" or a number of bytes → bytes (binary units: 1 KB = 1024 B). */
export function parseByteSize (v: unknown, path: string): number {
  let bytes: number
  if (typeof v === 'number') {
    bytes = readNumber(v, path, { min: 0 })
  } else if (typeof v === 'string') {
    const m = SIZE_RE.exec(v)
    const unit = m === null ? undefined : UNITS[(m[2] === '' ? 'B' : m[2]).toUpperCase()]
    if (m === null || unit === undefined) {
      throw new InvalidTaskSpecError(path, `must be a size like "100MB" or "2GB" or a number of bytes, got ${describe(v)}`)
    }
    bytes = Number(m[1]) * unit
  } else {
    throw new InvalidTaskSpecError(path, `must be a size like "100MB" or a number of bytes, got ${describe(v)}`)
  }
  if (bytes > MAX_SANDBOX_SIZE_BYTES) throw new InvalidTaskSpecError(path, `must be at most 1TB, got ${bytes} bytes`)
  return Math.floor(bytes)
}

// Each field has two spellings (camelCase, snake_case); four also have the seed's unit-less name
// (max_file_size, max_execution_time, memory_limit, cpu_limit), listed as fields of their own and
// folded into the canonical one by CANONICAL.
const ALIASES: FieldAliases = {
  allowNetwork: 'allow_network',
  allowFilesystem: 'allow_filesystem',
  allowedPaths: 'allowed_paths',
  maxFileSizeBytes: 'max_file_size_bytes',
  maxExecutionTimeSeconds: 'max_execution_time_seconds',
  memoryLimitBytes: 'memory_limit_bytes',
  cpuLimitPercent: 'cpu_limit_percent',
  maxFileSize: 'max_file_size',
  maxExecutionTime: 'max_execution_time',
  memoryLimit: 'memory_limit',
  cpuLimit: 'cpu_limit'
}
const CANONICAL: Record<string, keyof SandboxConfigData> = {
  maxFileSize: 'maxFileSizeBytes', maxExecutionTime: 'maxExecutionTimeSeconds', memoryLimit: 'memoryLimitBytes', cpuLimit: 'cpuLimitPercent'
}

/** Validates a sandbox config; missing fields take defaultSandboxConfig(). Errors name the field. */
export function parseSandboxConfig (input: unknown, fieldPrefix = 'sandbox_config'): SandboxConfigData {
  const fields = readFields(input, fieldPrefix, ALIASES)
  const out = defaultSandboxConfig()
  for (const [name, [v, path]] of fields) {
    const canonical = CANONICAL[name]
    if (canonical !== undefined && fields.has(canonical)) { // memory_limit and memory_limit_bytes: ambiguous
      throw new InvalidTaskSpecError(path, `given twice (also as ${fields.get(canonical)![1]})`)
    }
    switch (canonical ?? name) {
      case 'allowNetwork': out.allowNetwork = readBoolean(v, path); break
      case 'allowFilesystem': out.allowFilesystem = readBoolean(v, path); break
      case 'allowedPaths': out.allowedPaths = readStringList(v, path, 64, (s, p) => readString(s, p, 4096)); break
      case 'maxFileSizeBytes': out.maxFileSizeBytes = parseByteSize(v, path); break
      case 'maxExecutionTimeSeconds': out.maxExecutionTimeSeconds = readNumber(v, path, { min: 0, minExclusive: true, max: 86_400 }); break
      case 'memoryLimitBytes': out.memoryLimitBytes = parseByteSize(v, path); break
      case 'cpuLimitPercent': out.cpuLimitPercent = readNumber(v, path, { min: 0, minExclusive: true, max: 100 }); break
    }
  }
  return out
}

export function copySandboxConfig (s: SandboxConfigData): SandboxConfigData {
  return { ...s, allowedPaths: [...s.allowedPaths] }
}

/** The seed's class: `new SandboxConfig({ allow_network: false, memory_limit: '2GB', cpu_limit: 80 })`. */
export class SandboxConfig implements SandboxConfigData {
  declare allowNetwork: boolean
  declare allowFilesystem: boolean
  declare allowedPaths: string[]
  declare maxFileSizeBytes: number
  declare maxExecutionTimeSeconds: number
  declare memoryLimitBytes: number
  declare cpuLimitPercent: number

  constructor (init: Partial<SandboxConfigData> | Record<string, unknown> = {}) {
    Object.assign(this, parseSandboxConfig(init))
  }

  toData (): SandboxConfigData {
    return copySandboxConfig(this)
  }
}
