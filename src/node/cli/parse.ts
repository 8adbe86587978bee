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
