// Typed parsers for commander option values: a bad value is a usage error naming the flag.

import { InvalidArgumentError } from 'commander'
import { MSG } from './messages.js'

export function intOpt (flag: string, min = 0) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(MSG.errInt(flag, min))
    return Number(v)
  }
}

export function numOpt (flag: string) {
  return (v: string): number => {
    const n = Number(v)
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(MSG.errNumber(flag, v))
    return n
  }
}

export function choiceOpt (flag: string, allowed: readonly string[]) {
  return (v: string): string => {
    if (!allowed.includes(v)) throw new InvalidArgumentError(MSG.errChoice(flag, v, allowed))
    return v
  }
}

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }

/** `90s`, `15m`, `24h`, `7d` (or plain ms) → ms */
export function durationOpt (flag: string) {
  return (v: string): number => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|min|h|d)?$/.exec(v.trim())
    if (m === null) throw new InvalidArgumentError(`${flag}: expected a duration such as 60s, 15m, 24h or 7d, got "${v}"`)
    return Math.round(Number(m[1]) * DURATION_UNIT_MS[m[2] ?? 'ms'])
  }
}

const RATE_UNIT_S: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3600 }

/** `echo=10/s`, `type:echo=600/min`, `principal:alice=5/s` (repeatable) → rate-limit rules */
export function rateLimitOpt (v: string, prev: Array<{ scope: 'type' | 'principal', key: string, count: number, perSeconds: number }> = []) {
  const m = /^(?:(type|principal):)?([^=]+)=(\d+)\/(\d*\.?\d*)(s|sec|m|min|h)$/.exec(v.trim())
  if (m === null) throw new InvalidArgumentError(`--rate-limit: expected [type:|principal:]NAME=N/UNIT such as echo=10/s or principal:alice=100/min, got "${v}"`)
  const per = (m[4] === '' ? 1 : Number(m[4])) * RATE_UNIT_S[m[5]]
  if (Number(m[3]) < 1 || !(per > 0)) throw new InvalidArgumentError(`--rate-limit: the count and the period must be positive, got "${v}"`)
  return [...prev, { scope: (m[1] ?? 'type') as 'type' | 'principal', key: m[2].trim(), count: Number(m[3]), perSeconds: per }]
}

/** `a,b,c` → ['a','b','c'] (repeatable: values accumulate) */
export function listOpt (v: string, prev: string[] = []): string[] {
  return [...prev, ...v.split(',').map(s => s.trim()).filter(s => s !== '')]
}

/** repeatable flag */
export function collect (v: string, prev: string[] = []): string[] {
  return [...prev, v]
}

export const PRIORITIES = ['urgent', 'high', 'normal', 'low', 'background', '1', '2', '3', '4', '5'] as const
export const PLATFORMS = ['linux', 'android', 'windows', 'macos'] as const
export const ROLES = ['compute', 'mobile', 'storage'] as const
export const PERMISSIONS = ['read_files', 'write_files', 'network_access', 'system_commands'] as const
