// The wire codec: every message on every stream and topic is msgpack of a compact envelope
// `[v, type, body]` (v = ENVELOPE_VERSION). decode() never trusts its input: it checks the size cap,
// the msgpack structure, the envelope, the version, that the type is one the caller expects, and
// the body schema — in that order — and throws DecodeError (with a reason) for anything else.
//
//   const bytes = encode('assign', { taskId, attempt, task, leaderTerm })
//   const msg = decode(bytes, EXEC_MESSAGES)      // { type: 'assign', body: AssignBody } | ...

import { Packr } from 'msgpackr'
import { DecodeError, EncodeError } from './errors.js'
import { formatPath, type Infer, type Schema } from './schema.js'
import { MAX_FRAME_BYTES, MAX_ENTRY_DATA_BYTES, PACK_BUFFER_MAX_BYTES, PLAIN_MAX_BYTES } from './limits.js'
import { ALL_MESSAGES, CommandList } from './messages.js'
import type { Command } from '../sched/commands.js'

export const ENVELOPE_VERSION = 1

/** Message type → body schema: what one protocol (or topic) accepts. */
export type SchemaTable = Record<string, Schema<any>>

/** What decode() returns for a table: a union discriminated by `type`. */
export type Decoded<T extends SchemaTable> = { [K in keyof T & string]: { type: K, body: Infer<T[K]> } }[keyof T & string]

// useRecords → msgpackr's record extension: an object shape is written once per message and each
// object of that shape as a compact row. Every message stays self-describing (no shared structure
// state between peers), and a batch of same-shaped tasks is ~5× smaller and 2–5× faster to
// encode/decode than plain maps (measured on a 1,000-task submit). The price: the wire is
// msgpackr's dialect, not plain msgpack. copyBuffers → decoded bytes do not pin the (up to 4 MiB)
// frame they came in; mapsAsObjects → plain objects.
const packr = new Packr({ useRecords: true, copyBuffers: true, mapsAsObjects: true, moreTypes: false })
// A message of a few objects goes as plain msgpack maps: records pay for their shapes in every
// message (each shape written out, and read back by a reader msgpackr builds afresh, compiling one
// with `new Function` for a shape used thrice), which only many objects of one shape repay. The
// one-connection bench's leader spent ~4 % of its CPU and ~9 % of its allocations on the record
// definitions of forwarded one-task submissions, Raft acknowledgements and the like (2026-12-05,
// docs/performance.md). The decoder is the same for both (plain maps are msgpack; records an
// extension it always reads), so a node reads either from any peer.
const plainPackr = new Packr({ useRecords: false, copyBuffers: true, mapsAsObjects: true, moreTypes: false })
/** a message body with a list of at least this many items is encoded with records */
export const RECORDS_FROM_ITEMS = 4

/** Bytes as a plain Uint8Array view, so decoded binary fields are Uint8Array (not Buffer) everywhere. */
function plainView (b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

// msgpackr writes every message into one shared buffer (module-wide, across Packr instances) and
// hands out views of it; when a message does not fit, it allocates a bigger one — 4x the message
// below 16 MiB, 1.25x above — and from then on every new buffer is allocated at that size. So
// after one 100 MB snapshot each small message after it was a view of a ~125 MB buffer, and a
// message kept (a Raft entry in the tail cache, a record's bytes) kept that whole buffer alive:
// 150-280 MB of external memory per node in the 300k-task soak (issue 14). After a message that
// left a big buffer we hand msgpackr a small fresh one, and copy the message out of the big one
// when the message is less than half of it. A message the caller keeps (Raft entry data: the tail
// cache holds 4,096 of them) is copied out of any buffer it shares: a heap snapshot of an idle
// node after 100k tasks found 99 MB of ~1 MB pack buffers held by small cached entries.
/** the fresh buffer handed to msgpackr then (its own first buffer is 8 KiB) */
const PACK_BUFFER_START_BYTES = 64 * 1024

/** msgpackr's own kind of buffer: a Node Buffer where there is one (its fast string writes need it) */
function freshPackBuffer (): Uint8Array {
  return typeof Buffer === 'undefined' ? new Uint8Array(PACK_BUFFER_START_BYTES) : Buffer.allocUnsafeSlow(PACK_BUFFER_START_BYTES)
}

/** `kept`: the caller holds on to the bytes (see above); `records`: msgpackr's record extension */
function pack (value: unknown, maxBytes: number, what: string, kept = false, records = true): Uint8Array {
  let p = records ? packr : plainPackr
  let out: Uint8Array
  try {
    out = p.pack(value)
    // plain maps repeat every key: a big message whose lists hasLongList did not see (nested
    // deeper) goes with records after all
    if (!records && out.byteLength > PLAIN_MAX_BYTES) { p = packr; out = p.pack(value) }
  } catch (err) {
    throw new EncodeError(`${what}: ${(err as Error).message}`)
  }
  const shared = out.buffer.byteLength
  if (shared > PACK_BUFFER_MAX_BYTES) p.useBuffer(freshPackBuffer()) // one buffer, module-wide: either Packr resets it
  if ((shared > PACK_BUFFER_MAX_BYTES || kept) && out.byteLength * 2 < shared) out = new Uint8Array(out) // a copy: the big buffer can go
  if (out.byteLength > maxBytes) throw new EncodeError(`${what} is ${out.byteLength} bytes, over the ${maxBytes}-byte cap`)
  return plainView(out) // a Buffer from msgpackr: hand out a plain Uint8Array (no copy)
}

/** msgpack bytes → value, with every failure (garbage, truncation, trailing bytes, deep nesting) as DecodeError. */
function unpack (bytes: Uint8Array, maxBytes: number): unknown {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('malformed', 'input is not bytes')
  if (bytes.byteLength > maxBytes) throw new DecodeError('too_large', `${bytes.byteLength} bytes, over the ${maxBytes}-byte cap`)
  if (bytes.byteLength === 0) throw new DecodeError('empty', 'zero-length input')
  try {
    return packr.unpack(plainView(bytes))
  } catch (err) {
    throw new DecodeError('malformed', (err as Error).message ?? String(err))
  }
}

/** Encode one message. Throws EncodeError when the result is over `maxBytes` (default MAX_FRAME_BYTES). */
export function encode (type: string, body: unknown, maxBytes = MAX_FRAME_BYTES): Uint8Array {
  return pack([ENVELOPE_VERSION, type, body], maxBytes, `message '${type}'`, false, hasLongList(body))
}

/** whether one of the body's own fields is a list of RECORDS_FROM_ITEMS or more (a batch, a list of results, entries) */
function hasLongList (body: unknown): boolean {
  if (body === null || typeof body !== 'object') return false
  if (Array.isArray(body)) return body.length >= RECORDS_FROM_ITEMS
  for (const k in body) {
    const v = (body as Record<string, unknown>)[k]
    if (Array.isArray(v) && v.length >= RECORDS_FROM_ITEMS) return true
  }
  return false
}

/**
 * Decode and validate one message against `table` (type → body schema; default: every message of
 * every protocol — pass the one protocol's table where you can). Throws DecodeError.
 * `maxBytes` lets a topic use a tighter cap (bids: MAX_BID_BYTES) or the Raft stream a bigger one.
 */
export function decode<T extends SchemaTable = typeof ALL_MESSAGES> (bytes: Uint8Array, table: T = ALL_MESSAGES as unknown as T, maxBytes = MAX_FRAME_BYTES): Decoded<T> {
  const env = unpack(bytes, maxBytes)
  if (!Array.isArray(env) || env.length !== 3) throw new DecodeError('bad_envelope', 'expected [version, type, body]')
  const [v, type, body] = env
  if (v !== ENVELOPE_VERSION) throw new DecodeError('bad_version', `envelope version ${typeof v === 'number' ? v : typeof v}, this node speaks ${ENVELOPE_VERSION}`)
  if (typeof type !== 'string') throw new DecodeError('bad_envelope', 'message type is not a string')
  const schema = Object.prototype.hasOwnProperty.call(table, type) ? table[type] : undefined
  if (schema === undefined) throw new DecodeError('unknown_type', `unexpected message type '${type.slice(0, 64)}'`)
  const bad = schema.check(body)
  if (bad !== undefined) {
    const path = formatPath(bad.path)
    throw new DecodeError('invalid_body', `'${type}' ${path}: ${bad.message}`, path)
  }
  return { type, body } as Decoded<T>
}

/** Raft entry data: an encoded Command[] (many commands per entry: the leader batches). */
export function encodeCommands (cmds: Command[]): Uint8Array {
  return pack(cmds, MAX_ENTRY_DATA_BYTES, 'command list', true)
}

/** Decode and validate entry data. Throws DecodeError; an empty entry (leader no-op) is not commands. */
export function decodeCommands (bytes: Uint8Array): Command[] {
  const value = unpack(bytes, MAX_ENTRY_DATA_BYTES)
  const bad = CommandList.check(value)
  if (bad !== undefined) {
    const path = formatPath(bad.path)
    throw new DecodeError('invalid_body', `commands ${path}: ${bad.message}`, path)
  }
  return value as Command[]
}

/** Encode/decode an arbitrary plain value with the same settings (snapshots, sqlite meta). */
export function encodeValue (value: unknown, maxBytes = Number.MAX_SAFE_INTEGER): Uint8Array {
  return pack(value, maxBytes, 'value')
}
export function decodeValue (bytes: Uint8Array, maxBytes = Number.MAX_SAFE_INTEGER): unknown {
  return unpack(bytes, maxBytes)
}
/** Byte strings one after another in one buffer (the first itself when it is the only one). */
export function concatBytes (parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}

/**
 * The value at `offset` of values written one after another (a snapshot in pieces), each as
 * encodeValue wrote it, and the offset just past it: one value decoded per call, so a reader can
 * take a few a turn. Checked as decodeValue checks one; a value cut short is a DecodeError.
 */
export function decodeValueAt (bytes: Uint8Array, offset: number): { value: unknown, end: number } {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('malformed', 'input is not bytes')
  if (!(Number.isInteger(offset) && offset >= 0 && offset < bytes.byteLength)) throw new DecodeError('empty', `no value at offset ${offset} of ${bytes.byteLength} bytes`)
  let value: unknown
  let end = 0
  try {
    // msgpackr reads the rest of its input as more values unless told to stop after the first
    packr.unpackMultiple(plainView(bytes).subarray(offset), (v: unknown, _start?: number, stop?: number) => { value = v; end = stop ?? 0; return false })
  } catch (err) {
    throw new DecodeError('malformed', (err as Error).message ?? String(err))
  }
  if (end <= 0) throw new DecodeError('malformed', `no value at offset ${offset}`)
  return { value, end: offset + end }
}
