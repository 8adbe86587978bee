// The cluster state's snapshot, encoded a piece at a time. With retention full (100,000 finished
// tasks kept) a snapshot is 50-60 MB, and encoding it in one call held the event loop for 1.3-3.5 s —
// longer than an election timeout, so a leader taking one could be deposed and its clients waited
// (docs/performance.md, "Snapshots under a full retention"). Here every array of the snapshot longer
// than `sliceItems` is encoded `sliceItems` items at a time, one piece per step; the caller runs
// one step a turn and the node keeps reading heartbeats and appends in between.
//
// The bytes are a header value followed by the pieces, each a msgpack value of its own: the header
// is the snapshot without its long arrays, with version 2 and, under PIECES_KEY, how many pieces each
// of them has, in order. They are handed out as a list of parts, never joined into one buffer on the
// way to disk: joining 50 MB of fresh memory took ~0.2 s on a quiet machine here and over 1 s under
// load (page faults), in one turn. A node of an older version refuses version 2 with a clear error.

import { encodeValue, decodeValueAt } from '../../protocol/codec.js'
import { DecodeError } from '../../protocol/errors.js'
import type { PieceLayout, PiecePlan } from './snapshot-pieces.js'

/** arrays of a snapshot are encoded this many items a step (~5-15 ms of work for task records) */
export const SNAPSHOT_SLICE_ITEMS = 1000

const PIECES_KEY = 'pieces'
const PIECED_VERSION = 2
const PLAIN_VERSION = 1

export interface SlicedEncoder {
  /** encode the next piece; true once every piece is encoded (then call finish) */
  step: () => boolean
  /** the snapshot's bytes, in parts to be written one after another, once step() returned true */
  finish: () => Uint8Array[]
  /** where the pieces of the plan's array lie in those bytes, after finish() */
  layout: () => PieceLayout[]
}

/** A reused piece whose bytes are not what encoding its items gives now (RC_CHECK_INVARIANTS). */
export class ReusedPieceMismatchError extends Error {
  constructor (key: string, from: number, to: number) {
    super(`snapshot piece ${key}[${from}, ${to}) reused from the last snapshot differs from its items encoded now: a record changed in place`)
    this.name = 'ReusedPieceMismatchError'
  }
}

/**
 * `snap` must not change until finish() returns: it shares objects with the live state, so the
 * caller applies nothing meanwhile (ClusterCore holds the entries committed in the meantime).
 * With no array longer than `sliceItems` the bytes are one plain value, as snapshots always were.
 * `plan`: one array cut by the plan's own rule, whose pieces it may hand over already encoded
 * (snapshot-pieces.ts); `verify` encodes those too and throws ReusedPieceMismatchError when they differ.
 */
export function sliceEncoder (snap: object, sliceItems = SNAPSHOT_SLICE_ITEMS, plan?: PiecePlan, verify = false): SlicedEncoder {
  const rest: Record<string, unknown> = {}
  const counts: Record<string, number> = {}
  const jobs: Array<{ key: string, items: unknown[], from: number, to: number }> = []
  for (const [k, v] of Object.entries(snap)) {
    if (!Array.isArray(v) || v.length <= sliceItems) { rest[k] = v; continue }
    const ends = plan?.key === k ? plan.cuts(v, sliceItems) : undefined
    if (ends !== undefined) {
      counts[k] = ends.length
      let from = 0
      for (const to of ends) { jobs.push({ key: k, items: v, from, to }); from = to }
      continue
    }
    counts[k] = Math.ceil(v.length / sliceItems)
    for (let i = 0; i < v.length; i += sliceItems) jobs.push({ key: k, items: v, from: i, to: Math.min(v.length, i + sliceItems) })
  }
  const parts: Uint8Array[] = []
  let next = 0
  /** the bytes once finished: the header, then the parts */
  let bytes: Uint8Array[] | undefined
  return {
    step: () => {
      const job = jobs[next]
      if (job !== undefined) {
        next++
        const reused = plan?.key === job.key ? plan.reuse(job.items, job.from, job.to) : undefined
        if (reused !== undefined && verify) {
          const now = encodeValue(job.items.slice(job.from, job.to))
          if (Buffer.compare(now, reused) !== 0) throw new ReusedPieceMismatchError(job.key, job.from, job.to)
        }
        // a copy: encodeValue may hand out a view of msgpackr's shared buffer, which the next encode reuses
        parts.push(reused ?? encodeValue(job.items.slice(job.from, job.to)).slice())
      }
      return next >= jobs.length
    },
    finish: () => {
      if (next < jobs.length) throw new Error(`snapshot encoder: ${jobs.length - next} pieces not encoded yet`)
      if (jobs.length === 0) return [encodeValue(rest)]
      bytes ??= [encodeValue({ ...rest, version: PIECED_VERSION, [PIECES_KEY]: counts }).slice(), ...parts]
      return bytes
    },
    layout: () => {
      const out: PieceLayout[] = []
      if (plan === undefined || bytes === undefined) return out
      let offset = bytes[0]!.byteLength
      jobs.forEach((j, i) => {
        const length = parts[i]!.byteLength
        if (j.key === plan.key) out.push({ items: j.items, from: j.from, to: j.to, offset, length })
        offset += length
      })
      return out
    }
  }
}

export interface SlicedDecoder {
  /** decode the next value (the header, then one piece); true once all are decoded (then call finish) */
  step: () => boolean
  /** the snapshot value ClusterState.restore takes, once step() returned true */
  finish: () => unknown
}

/**
 * Bytes of either kind (one value, or a header and its pieces) → the snapshot value, one value a
 * step: a follower restoring the leader's 50 MB snapshot decoded it in one go for ~1 s. Every
 * malformation is a DecodeError, from the step that meets it or from finish.
 */
export function sliceDecoder (data: Uint8Array): SlicedDecoder {
  let at = 0
  let snap: Record<string, unknown> | undefined
  /** the pieced arrays still to read, in order: key, pieces left, items so far */
  const pending: Array<{ key: string, left: number, items: unknown[] }> = []
  let done = false
  const header = (): void => {
    const { value, end } = decodeValueAt(data, 0)
    at = end
    const pieced = value !== null && typeof value === 'object' && (value as Record<string, unknown>).version === PIECED_VERSION
    if (!pieced) {
      if (at !== data.byteLength) throw new DecodeError('malformed', `a snapshot of version ${String((value as { version?: unknown })?.version)} followed by more values`)
      snap = value as Record<string, unknown>
      done = true
      return
    }
    snap = value as Record<string, unknown>
    const counts = snap[PIECES_KEY]
    if (counts === null || typeof counts !== 'object') throw new DecodeError('malformed', `snapshot version ${PIECED_VERSION} without its pieces`)
    for (const [key, n] of Object.entries(counts as Record<string, unknown>)) {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new DecodeError('malformed', `snapshot pieces of '${key}': ${String(n)}`)
      pending.push({ key, left: n, items: [] })
    }
    delete snap[PIECES_KEY]
    snap.version = PLAIN_VERSION
  }
  const piece = (): void => {
    const job = pending[0]!
    if (at >= data.byteLength) throw new DecodeError('malformed', `snapshot pieces of '${job.key}': ${job.left} missing`)
    const { value, end } = decodeValueAt(data, at)
    at = end
    if (!Array.isArray(value)) throw new DecodeError('malformed', `a snapshot piece of '${job.key}' is not a list`)
    for (const x of value) job.items.push(x)
    if (--job.left > 0) return
    snap![job.key] = job.items
    pending.shift()
  }
  return {
    step: () => {
      if (done) return true
      if (snap === undefined) header()
      else piece()
      if (snap !== undefined && pending.length === 0) {
        if (at !== data.byteLength) throw new DecodeError('malformed', 'values after the snapshot\'s pieces')
        done = true
      }
      return done
    },
    finish: () => {
      if (!done) throw new Error('snapshot decoder: not every piece is decoded yet')
      return snap
    }
  }
}

/** Bytes of either kind, decoded in one go (at start, tests). */
export function decodeSnapshot (data: Uint8Array): unknown {
  const dec = sliceDecoder(data)
  while (!dec.step()) { /* the next piece */ }
  return dec.finish()
}
