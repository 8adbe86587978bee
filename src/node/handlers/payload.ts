// Small payload checks shared by the built-ins. Each failure names the field it is about.

import { InvalidPayloadError } from './errors.js'

export type Obj = Record<string, unknown>

export function asObject (payload: unknown, what = 'payload'): Obj {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new InvalidPayloadError(what === 'payload' ? '' : what, `must be an object, got ${describe(payload)}`)
  }
  return payload as Obj
}

export function num (o: Obj, field: string, opts: { min?: number, max?: number, optional?: boolean } = {}): number | undefined {
  const v = o[field]
  if (v === undefined && opts.optional === true) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidPayloadError(field, `must be a finite number, got ${describe(v)}`)
  if (opts.min !== undefined && v < opts.min) throw new InvalidPayloadError(field, `must be >= ${opts.min}, got ${v}`)
  if (opts.max !== undefined && v > opts.max) throw new InvalidPayloadError(field, `must be <= ${opts.max}, got ${v}`)
  return v
}

export function str (o: Obj, field: string, opts: { optional?: boolean, maxLength?: number, nonEmpty?: boolean } = {}): string | undefined {
  const v = o[field]
  if (v === undefined && opts.optional === true) return undefined
  if (typeof v !== 'string') throw new InvalidPayloadError(field, `must be a string, got ${describe(v)}`)
  if (opts.nonEmpty === true && v.length === 0) throw new InvalidPayloadError(field, 'must not be empty')
  if (opts.maxLength !== undefined && v.length > opts.maxLength) throw new InvalidPayloadError(field, `must be at most ${opts.maxLength} characters, got ${v.length}`)
  return v
}

export function bool (o: Obj, field: string): boolean | undefined {
  const v = o[field]
  if (v === undefined) return undefined
  if (typeof v !== 'boolean') throw new InvalidPayloadError(field, `must be true or false, got ${describe(v)}`)
  return v
}

export function oneOf<T extends string> (o: Obj, field: string, allowed: readonly T[]): T {
  const v = o[field]
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new InvalidPayloadError(field, `must be one of ${allowed.join(', ')}, got ${describe(v)}`)
  }
  return v as T
}

export function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `"${v.length > 40 ? v.slice(0, 40) + '…' : v}"`
  if (typeof v === 'object') return 'an object'
  return `${typeof v} ${String(v)}`
}
