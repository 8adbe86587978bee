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

import { encodeValue, decodeValues } from '../../protocol/codec.js'
import { DecodeError } from '../../protocol/errors.js'

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
}

/**
 * `snap` must not change until finish() returns: it shares objects with the live state, so the
 * caller applies nothing meanwhile (ClusterCore holds the entries committed in the meantime).
 * With no array longer than `sliceItems` the bytes are one plain value, as snapshots always were.
 */
export function sliceEncoder (snap: object, sliceItems = SNAPSHOT_SLICE_ITEMS): SlicedEncoder {
  const rest: Record<string, unknown> = {}
  const counts: Record<string, number> = {}
  const jobs: Array<{ items: unknown[], from: number }> = []
  for (const [k, v] of Object.entries(snap)) {
    if (!Array.isArray(v) || v.length <= sliceItems) { rest[k] = v; continue }
    counts[k] = Math.ceil(v.length / sliceItems)
    for (let i = 0; i < v.length; i += sliceItems) jobs.push({ items: v, from: i })
  }
  const parts: Uint8Array[] = []
  let next = 0
  return {
    step: () => {
      const job = jobs[next]
      if (job !== undefined) {
        next++
        // a copy: encodeValue may hand out a view of msgpackr's shared buffer, which the next encode reuses
        parts.push(encodeValue(job.items.slice(job.from, job.from + sliceItems)).slice())
      }
      return next >= jobs.length
    },
    finish: () => {
      if (next < jobs.length) throw new Error(`snapshot encoder: ${jobs.length - next} pieces not encoded yet`)
      if (jobs.length === 0) return [encodeValue(rest)]
      return [encodeValue({ ...rest, version: PIECED_VERSION, [PIECES_KEY]: counts }).slice(), ...parts]
    }
  }
}

/** Bytes of either kind (one value, or a header and its pieces) → the snapshot value ClusterState.restore takes. */
export function decodeSnapshot (data: Uint8Array): unknown {
  const values = decodeValues(data)
  const head = values[0]
  const pieced = head !== null && typeof head === 'object' && (head as Record<string, unknown>).version === PIECED_VERSION
  if (!pieced) {
    if (values.length !== 1) throw new DecodeError('malformed', `a snapshot of version ${String((head as { version?: unknown })?.version)} followed by ${values.length - 1} more values`)
    return head
  }
  const snap = head as Record<string, unknown>
  const counts = snap[PIECES_KEY]
  if (counts === null || typeof counts !== 'object') throw new DecodeError('malformed', `snapshot version ${PIECED_VERSION} without its pieces`)
  let at = 1
  for (const [k, n] of Object.entries(counts as Record<string, unknown>)) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || at + n > values.length) throw new DecodeError('malformed', `snapshot pieces of '${k}': ${String(n)}, with ${values.length - at} values left`)
    const items: unknown[] = []
    for (const part of values.slice(at, at + n)) {
      if (!Array.isArray(part)) throw new DecodeError('malformed', `a snapshot piece of '${k}' is not a list`)
      for (const x of part) items.push(x)
    }
    at += n
    snap[k] = items
  }
  if (at !== values.length) throw new DecodeError('malformed', `${values.length - at} values after the snapshot's pieces`)
  delete snap[PIECES_KEY]
  snap.version = PLAIN_VERSION
  return snap
}
