// Snapshot pieces of ended tasks, reused. A snapshot encodes the whole state, and most of it is the
// records of tasks that have ended (retention keeps up to 100,000 of them): every snapshot encoded
// them all again, 13-18 % of every node's CPU in `--mode batch` (docs/performance.md). An ended
// task's record never changes in place (src/sched/state/records.ts, changeable: it is replaced by
// a changed copy), so the bytes a snapshot wrote for a piece of ended records are still right for
// the next one as long as the piece holds the very same objects: they are read back from the stored
// snapshot instead of encoded again.
//
// Pieces are cut by content, not by position (a cut after a record whose id hashes to 0 modulo
// half the piece size, or at the piece size, so no piece is longer than before and a step of the
// encoder or of a follower's restore takes no longer): evicting the oldest tasks or appending new
// ones changes only the pieces they are in, not the cuts of all the others. A piece is known by a
// number; a WeakMap gives each ended record the piece it was stored in, so the cache holds no
// record alive after it is evicted. A piece is reused when every record in it is in it, and only they.

import type { TaskRecord } from '../../sched/commands.js'
import { TERMINAL_STATUSES } from '../../sched/types.js'

/** Reads `length` bytes at `offset` of the stored snapshot of `index`; undefined if that is not the one stored. */
export type StoredSnapshotReader = (index: number, offset: number, length: number) => Uint8Array | undefined

/** The reader for a storage that keeps its snapshot's bytes in memory (MemoryStorage, the simulator's disk). */
export function readInMemorySnapshot (storage: { snapshot: () => { meta: { index: number }, data: Uint8Array } }): StoredSnapshotReader {
  return (index, offset, length) => {
    const s = storage.snapshot()
    return s.meta.index === index && offset + length <= s.data.byteLength ? s.data.subarray(offset, offset + length) : undefined
  }
}

/** Where a piece of the snapshot just encoded lies in its bytes. */
export interface PieceLayout { items: readonly unknown[], from: number, to: number, offset: number, length: number }

/** How the snapshot encoder cuts one array into pieces and finds pieces it need not encode. */
export interface PiecePlan {
  key: string
  /** the ends of the pieces of `items` (ascending, the last is items.length) */
  cuts: (items: readonly unknown[], sliceItems: number) => number[]
  /** the bytes of items[from, to) if they can be reused */
  reuse: (items: readonly unknown[], from: number, to: number) => Uint8Array | undefined
}

interface StoredPiece { count: number, offset: number, length: number }

export class EndedTaskPieces implements PiecePlan {
  readonly key = 'tasks'
  /** the piece each ended record was stored in */
  private pieceOf = new WeakMap<TaskRecord, number>()
  /** the pieces of the stored snapshot (`index`) */
  private stored = new Map<number, StoredPiece>()
  private index = -1
  /** the pieces of the snapshot encoded last, until the driver says it is stored */
  private pending?: Map<number, StoredPiece>
  /** the snapshot being encoded: the stored piece each reused piece was, by where it starts */
  private reusedAt = new Map<number, number>()
  private nextPiece = 1
  /** pieces reused, and records in them, since the node started (for tests and the stats) */
  reusedPieces = 0
  reusedRecords = 0

  constructor (private readonly read: StoredSnapshotReader) {}

  cuts (items: readonly unknown[], sliceItems: number): number[] {
    this.reusedAt.clear() // a new snapshot (one given up before its encoded() leaves nothing behind)
    const ends: number[] = []
    const modulus = Math.max(1, Math.floor(sliceItems / 2))
    let start = 0
    for (let i = 0; i < items.length; i++) {
      if (i + 1 - start >= sliceItems || idHash((items[i] as TaskRecord).id) % modulus === 0) {
        ends.push(i + 1)
        start = i + 1
      }
    }
    if (start < items.length) ends.push(items.length)
    return ends
  }

  reuse (items: readonly unknown[], from: number, to: number): Uint8Array | undefined {
    const first = this.pieceOf.get(items[from] as TaskRecord)
    if (first === undefined) return undefined
    const p = this.stored.get(first)
    if (p === undefined || p.count !== to - from) return undefined
    // every record of the piece, and only they: a record replaced by a changed copy is not in the map
    for (let i = from + 1; i < to; i++) if (this.pieceOf.get(items[i] as TaskRecord) !== first) return undefined
    const bytes = this.read(this.index, p.offset, p.length)
    if (bytes === undefined || bytes.byteLength !== p.length) return undefined
    this.reusedAt.set(from, first)
    this.reusedPieces++
    this.reusedRecords += p.count
    return bytes
  }

  /** The snapshot just encoded: its pieces of `tasks`, whether encoded or reused. */
  encoded (layout: readonly PieceLayout[]): void {
    const next = new Map<number, StoredPiece>()
    for (const l of layout) {
      const items = l.items as readonly TaskRecord[]
      let ended = true
      for (let i = l.from; i < l.to && ended; i++) ended = TERMINAL_STATUSES.has(items[i]!.status)
      if (!ended) continue
      // a reused piece keeps its number (its records already name it); an encoded one gets a new one
      let id = this.reusedAt.get(l.from)
      if (id === undefined) {
        id = this.nextPiece++
        for (let i = l.from; i < l.to; i++) this.pieceOf.set(items[i]!, id)
      }
      next.set(id, { count: l.to - l.from, offset: l.offset, length: l.length })
    }
    this.reusedAt.clear()
    this.pending = next
  }

  /** The driver stored the snapshot encoded last, as the snapshot of `index`. */
  storedAs (index: number): void {
    if (this.pending === undefined) return
    this.stored = this.pending
    this.pending = undefined
    this.index = index
  }

  /** Another snapshot (one from the leader, one in one go) is or will be the stored one: nothing to reuse. */
  forget (): void {
    this.stored = new Map()
    this.pending = undefined
    this.reusedAt.clear()
    this.index = -1
    this.pieceOf = new WeakMap()
  }
}

/** FNV-1a of a string's UTF-16 units: cheap, and the same on every run (the cuts must not move). */
function idHash (id: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
