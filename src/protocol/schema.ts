// A tiny validator combinator set for everything that crosses a trust boundary (wire, gossip, log).
// Each combinator compiles to a plain `check(v)` function that returns `undefined` when the value is
// valid and an Issue otherwise. A valid value allocates nothing; the failing path is built only while
// unwinding (entries[3].term), so the hot path stays allocation-light.
//
// Usage:
//   const Point = obj({ x: num({ int: true }), tag: str({ max: 16 }) }, { optional: ['tag'] })
//   type Point = Infer<typeof Point>
//   const p = validate(Point, decoded)      // throws SchemaError naming the path

import { SchemaError } from './errors.js'

/** Why a value failed; `path` holds segments innermost-last once unwound. */
export interface Issue { path: Array<string | number>, message: string }

export interface Schema<T> {
  readonly kind: string
  check: (v: unknown) => Issue | undefined
  /** phantom: carries the validated type for Infer<> */
  readonly __type?: T
}

export type Infer<S> = S extends Schema<infer T> ? T : never

function issue (message: string): Issue { return { path: [], message } }

/** Prefix a segment onto a failing issue's path while unwinding. */
function under (i: Issue, seg: string | number): Issue { i.path.unshift(seg); return i }

/** `entries[3].term`, or `(root)` for an empty path. */
export function formatPath (path: ReadonlyArray<string | number>): string {
  let s = ''
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : (s === '' ? seg : `.${seg}`)
  return s === '' ? '(root)' : s
}

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (v instanceof Uint8Array) return 'bytes'
  return typeof v
}

/** A short, bounded rendering of an untrusted value for error messages. */
function show (v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v)
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return describe(v)
}

/** Throws SchemaError (with `.path`) unless `v` matches; returns `v` typed. */
export function validate<T> (schema: Schema<T>, v: unknown, what = 'value'): T {
  const i = schema.check(v)
  if (i !== undefined) throw new SchemaError(formatPath(i.path), `${what}: ${formatPath(i.path)}: ${i.message}`)
  return v as T
}

export function is<T> (schema: Schema<T>, v: unknown): v is T { return schema.check(v) === undefined }

// ---- scalars -------------------------------------------------------------------------------

export function str (opts: { max?: number, min?: number } = {}): Schema<string> {
  const max = opts.max ?? Infinity
  const min = opts.min ?? 0
  return {
    kind: 'str',
    check: v => {
      if (typeof v !== 'string') return issue(`expected string, got ${describe(v)}`)
      if (v.length > max) return issue(`string longer than ${max} (${v.length})`)
      if (v.length < min) return issue(`string shorter than ${min}`)
      return undefined
    }
  }
}

export function num (opts: { min?: number, max?: number, int?: boolean } = {}): Schema<number> {
  const min = opts.min ?? -Infinity
  const max = opts.max ?? Infinity
  const int = opts.int === true
  return {
    kind: 'num',
    check: v => {
      if (typeof v !== 'number' || Number.isNaN(v)) return issue(`expected number, got ${describe(v)}`)
      if (int && !Number.isSafeInteger(v)) return issue(`expected an integer, got ${v}`)
      if (!int && !Number.isFinite(v)) return issue(`expected a finite number, got ${v}`)
      if (v < min) return issue(`must be >= ${min}, got ${v}`)
      if (v > max) return issue(`must be <= ${max}, got ${v}`)
      return undefined
    }
  }
}

export function bool (): Schema<boolean> {
  return { kind: 'bool', check: v => typeof v === 'boolean' ? undefined : issue(`expected boolean, got ${describe(v)}`) }
}

export function bytes (opts: { max?: number } = {}): Schema<Uint8Array> {
  const max = opts.max ?? Infinity
  return {
    kind: 'bytes',
    check: v => {
      if (!(v instanceof Uint8Array)) return issue(`expected bytes, got ${describe(v)}`)
      if (v.byteLength > max) return issue(`bytes longer than ${max} (${v.byteLength})`)
      return undefined
    }
  }
}

/** Anything (opaque payloads). Size is bounded by the frame cap, not here. */
export function any (): Schema<unknown> { return { kind: 'any', check: () => undefined } }

/** One of a fixed set of literal values (strings, numbers, booleans). */
export function oneOf<const L extends ReadonlyArray<string | number | boolean>> (...literals: L): Schema<L[number]> {
  const set = new Set<unknown>(literals)
  const shown = literals.map(l => JSON.stringify(l)).join(', ')
  return { kind: 'oneOf', check: v => set.has(v) ? undefined : issue(`expected one of ${shown}, got ${show(v)}`) }
}

export function nullable<T> (s: Schema<T>): Schema<T | null> {
  return { kind: 'nullable', check: v => v === null ? undefined : s.check(v) }
}

// ---- containers ----------------------------------------------------------------------------

export function arr<T> (item: Schema<T>, opts: { max?: number } = {}): Schema<T[]> {
  const max = opts.max ?? Infinity
  const check = item.check
  return {
    kind: 'arr',
    check: v => {
      if (!Array.isArray(v)) return issue(`expected array, got ${describe(v)}`)
      if (v.length > max) return issue(`array longer than ${max} (${v.length})`)
      for (let i = 0; i < v.length; i++) {
        const bad = check(v[i])
        if (bad !== undefined) return under(bad, i)
      }
      return undefined
    }
  }
}

/** String-keyed map with bounded size, e.g. template variables. */
export function record<T> (value: Schema<T>, opts: { maxKeys?: number, maxKeyLength?: number } = {}): Schema<Record<string, T>> {
  const maxKeys = opts.maxKeys ?? Infinity
  const maxKeyLength = opts.maxKeyLength ?? Infinity
  return {
    kind: 'record',
    check: v => {
      if (!isPlainObject(v)) return issue(`expected object, got ${describe(v)}`)
      let n = 0
      for (const k in v) {
        if (++n > maxKeys) return issue(`more than ${maxKeys} keys`)
        if (k.length > maxKeyLength) return issue(`key longer than ${maxKeyLength}`)
        const bad = value.check((v as Record<string, unknown>)[k])
        if (bad !== undefined) return under(bad, k)
      }
      return undefined
    }
  }
}

type Fields = Record<string, Schema<any>>
type Simplify<T> = { [K in keyof T]: T[K] } & {}
export type ObjType<F extends Fields, O extends keyof F> = Simplify<
  { -readonly [K in Exclude<keyof F, O>]: Infer<F[K]> } & { -readonly [K in O]?: Infer<F[K]> }
>

export interface ObjSchema<F extends Fields, O extends keyof F> extends Schema<ObjType<F, O>> {
  readonly fields: F
  readonly optional: ReadonlyArray<O>
  readonly strict: boolean
}

function isPlainObject (v: unknown): v is object {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/**
 * A plain object. Fields listed in `optional` may be absent or undefined. `strict` rejects unknown
 * keys (use it for anything stored in the replicated state, so garbage never reaches the log).
 */
export function obj<F extends Fields, O extends keyof F = never> (
  fields: F, opts: { optional?: ReadonlyArray<O>, strict?: boolean } = {}
): ObjSchema<F, O> {
  const optional = opts.optional ?? []
  const strict = opts.strict === true
  const keys = Object.keys(fields)
  const checks = keys.map(k => fields[k].check)
  const isOpt = keys.map(k => (optional as readonly string[]).includes(k))
  const known = new Set(keys)
  const n = keys.length
  return {
    kind: 'obj',
    fields,
    optional,
    strict,
    check: v => {
      if (!isPlainObject(v)) return issue(`expected object, got ${describe(v)}`)
      const o = v as Record<string, unknown>
      for (let i = 0; i < n; i++) {
        const k = keys[i]
        const x = o[k]
        if (x === undefined) {
          if (isOpt[i]) continue
          return under(issue('is required'), k)
        }
        const bad = checks[i](x)
        if (bad !== undefined) return under(bad, k)
      }
      if (strict) {
        for (const k in o) if (!known.has(k)) return under(issue('unknown field'), k)
      }
      return undefined
    }
  }
}

/** Add fields to an object schema (keeps its optional list and strictness). */
export function extend<F extends Fields, O extends keyof F, G extends Fields> (
  base: ObjSchema<F, O>, more: G
): ObjSchema<Omit<F, keyof G> & G, any> {
  return obj({ ...base.fields, ...more } as Omit<F, keyof G> & G, { optional: base.optional as any[], strict: base.strict })
}

type Cases = Record<string, ObjSchema<any, any>>
export type UnionType<K extends string, C extends Cases> = { [T in keyof C & string]: Simplify<Infer<C[T]> & { [P in K]: T }> }[keyof C & string]

/**
 * Discriminated union: `union('type', { submit: obj(...), cancel: obj(...) })`. The discriminant
 * picks the case by one map lookup; each case schema need not declare the discriminant field.
 */
export function union<K extends string, C extends Cases> (key: K, cases: C): Schema<UnionType<K, C>> & { readonly cases: C } {
  const table = new Map<string, Schema<unknown>>()
  for (const tag of Object.keys(cases)) {
    table.set(tag, extend(cases[tag], { [key]: oneOf(tag) }))
  }
  const names = Object.keys(cases).join(', ')
  return {
    kind: 'union',
    cases,
    check: v => {
      if (!isPlainObject(v)) return issue(`expected object, got ${describe(v)}`)
      const tag = (v as Record<string, unknown>)[key]
      const s = typeof tag === 'string' ? table.get(tag) : undefined
      if (s === undefined) return under(issue(`expected one of ${names}, got ${show(tag)}`), key)
      return s.check(v)
    }
  }
}

/** First matching alternative (use sparingly: errors report the last alternative's issue). */
export function or<A, B> (a: Schema<A>, b: Schema<B>): Schema<A | B> {
  return { kind: 'or', check: v => a.check(v) === undefined ? undefined : b.check(v) }
}

/**
 * Any plain value (task payloads, results) with a bound on its approximate encoded size and nesting
 * depth. Walks the value once without allocating. The estimate is a LOWER bound of both the msgpack
 * and the JSON size (numbers count 1 byte, strings their UTF-16 length), so whatever src/sched
 * accepted by JSON size is never refused here; the frame cap is the exact outer bound.
 */
export function sizedAny (opts: { maxBytes: number, maxDepth?: number }): Schema<unknown> {
  const maxBytes = opts.maxBytes
  const maxDepth = opts.maxDepth ?? 64
  return {
    kind: 'sizedAny',
    check: v => {
      const size = approxSize(v, maxDepth, maxBytes)
      if (size < 0) return issue(`nested deeper than ${maxDepth}`)
      if (size > maxBytes) return issue(`larger than ${maxBytes} bytes`)
      return undefined
    }
  }
}

/** sizedAny's estimate of a value's size in bytes (a lower bound; stops counting past `budget`; -1 if nested deeper than 64) */
export function approxBytes (v: unknown, budget = Number.MAX_SAFE_INTEGER): number {
  return approxSize(v, 64, budget)
}

/** Lower-bound size estimate; -1 if too deep. Stops early once over `budget`. */
function approxSize (v: unknown, depth: number, budget: number): number {
  if (typeof v === 'string') return v.length + 1
  if (typeof v !== 'object' || v === null) return 1
  if (depth <= 0) return -1
  if (v instanceof Uint8Array) return v.byteLength + 1
  let total = 1
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length && total <= budget; i++) {
      const s = approxSize(v[i], depth - 1, budget - total)
      if (s < 0) return -1
      total += s
    }
    return total
  }
  for (const k in v as Record<string, unknown>) {
    if (total > budget) break
    const s = approxSize((v as Record<string, unknown>)[k], depth - 1, budget - total)
    if (s < 0) return -1
    total += s + k.length + 1
  }
  return total
}
