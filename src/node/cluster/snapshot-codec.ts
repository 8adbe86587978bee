// The cluster state's snapshot, encoded a piece at a time. With retention full (100,000 finished
// tasks kept) a snapshot is 50-60 MB, and encoding it in one call held the event loop for 1.3-3.5 s —
// longer than an election timeout, so a leader taking one could be deposed and its clients waited
// (docs/performance.md, "Snapshots under a full retention"). Here every array of the snapshot longer
// than `sliceItems` is encoded `sliceItems` items at a time, one piece per step; the caller runs
// one step a turn and the node keeps reading heartbeats and appends in between. The pieces ride in
// the outer value as bytes (copying them there costs a memcpy), under PIECES_KEY with version 2, so
// a node of an older version refuses such a snapshot with a clear error instead of misreading it.

import { encodeValue, decodeValue } from '../../protocol/codec.js'
import { DecodeError } from '../../protocol/errors.js'

/** arrays of a snapshot are encoded this many items a step (~5-15 ms of work for task records) */
export const SNAPSHOT_SLICE_ITEMS = 1000

const PIECES_KEY = 'pieces'
const PIECED_VERSION = 2
const PLAIN_VERSION = 1

export interface SlicedEncoder {
  /** encode the next piece; true once every piece is encoded (then call finish) */
  step: () => boolean
  /** the snapshot's bytes, once step() returned true */
  finish: () => Uint8Array
}

/**
 * `snap` must not change until finish() returns: it shares objects with the live state, so the
 * caller applies nothing meanwhile (ClusterCore holds the entries committed in the meantime).
 */
export function sliceEncoder (snap: object, sliceItems = SNAPSHOT_SLICE_ITEMS): SlicedEncoder {
  const rest: Record<string, unknown> = {}
  const pieces: Record<string, Uint8Array[]> = {}
  const jobs: Array<{ items: unknown[], out: Uint8Array[], from: number }> = []
  for (const [k, v] of Object.entries(snap)) {
    if (!Array.isArray(v) || v.length <= sliceItems) { rest[k] = v; continue }
    const out: Uint8Array[] = pieces[k] = []
    for (let i = 0; i < v.length; i += sliceItems) jobs.push({ items: v, out, from: i })
  }
  let next = 0
  return {
    step: () => {
      const job = jobs[next]
      if (job !== undefined) {
        next++
        // a copy: encodeValue may hand out a view of msgpackr's shared buffer, which the next encode reuses
        job.out.push(encodeValue(job.items.slice(job.from, job.from + sliceItems)).slice())
      }
      return next >= jobs.length
    },
    finish: () => {
      if (next < jobs.length) throw new Error(`snapshot encoder: ${jobs.length - next} pieces not encoded yet`)
      if (jobs.length === 0) return encodeValue(rest)
      return encodeValue({ ...rest, version: PIECED_VERSION, [PIECES_KEY]: pieces })
    }
  }
}

/** Bytes of either kind (one piece, or pieced) → the snapshot value ClusterState.restore takes. */
export function decodeSnapshot (data: Uint8Array): unknown {
  const v = decodeValue(data)
  if (v === null || typeof v !== 'object' || (v as Record<string, unknown>).version !== PIECED_VERSION) return v
  const snap = v as Record<string, unknown>
  const pieces = snap[PIECES_KEY]
  if (pieces === null || typeof pieces !== 'object') throw new DecodeError('malformed', `snapshot version ${PIECED_VERSION} without its pieces`)
  for (const [k, list] of Object.entries(pieces as Record<string, unknown>)) {
    if (!Array.isArray(list)) throw new DecodeError('malformed', `snapshot pieces of '${k}' are not a list`)
    const items: unknown[] = []
    for (const p of list) {
      if (!(p instanceof Uint8Array)) throw new DecodeError('malformed', `a snapshot piece of '${k}' is not bytes`)
      const part = decodeValue(p)
      if (!Array.isArray(part)) throw new DecodeError('malformed', `a snapshot piece of '${k}' is not a list`)
      for (const x of part) items.push(x)
    }
    snap[k] = items
  }
  delete snap[PIECES_KEY]
  snap.version = PLAIN_VERSION
  return snap
}
