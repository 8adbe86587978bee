// In-memory RaftStorage for the simulator and tests. It models a crash exactly: everything passed
// to save()/createSnapshot()/compact() is durable, nothing else exists, and crashCopy() returns a
// fresh storage holding only that durable state (what a process restarted after a crash would read).
//
// Layout (as etcd's MemoryStorage): `ents[0]` is a dummy entry standing for the last compacted index
// (term kept so term(firstIndex-1) answers); real entries follow. The snapshot may be older than
// ents[0] only if compact() was called with an index below the snapshot — never newer, see compact().
import type { ConfState, Entry, HardState, RaftStorage, Snapshot } from './types.js'
import { CompactedError, RaftInputError, SnapshotOutOfDateError, UnavailableError } from './errors.js'
import { bootstrapStorage } from './bootstrap.js'

export interface MemoryStorageInit {
  /** the bootstrap configuration; omit for a node that will be added to a cluster later */
  conf?: ConfState
  /**
   * Where the bootstrap configuration lives. 1 (default): a snapshot at index 1, term 1, exactly
   * what bootstrapStorage() writes, so a node added later receives the base configuration by
   * snapshot. 0: a snapshot at index 0 (etcd's test style), only for fixed-membership tests.
   */
  bootstrapIndex?: 0 | 1
}

export class MemoryStorage implements RaftStorage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 }
  private snap: Snapshot
  /** ents[0] is the dummy at the compacted index; never empty */
  private ents: Entry[]
  private closed = false

  constructor (init: MemoryStorageInit = {}) {
    const conf = copyConf(init.conf ?? { voters: [], learners: [] })
    this.snap = { meta: { index: 0, term: 0, conf }, data: new Uint8Array(0) }
    this.ents = [{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }]
    if (init.conf !== undefined && init.bootstrapIndex !== 0) bootstrapStorage(this, init.conf)
  }

  initialState (): { hardState: HardState, confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: copyConf(this.snap.meta.conf) }
  }

  entries (lo: number, hi: number, maxBytes = Infinity): Entry[] {
    const offset = this.ents[0].index
    if (lo <= offset) throw new CompactedError(lo)
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1)
    if (lo > hi) throw new RaftInputError('entries range', `lo ${lo} > hi ${hi}`)
    const out: Entry[] = []
    let size = 0
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - offset]
      size += e.data.byteLength
      if (out.length > 0 && size > maxBytes) break
      out.push(e)
    }
    return out
  }

  term (i: number): number {
    const offset = this.ents[0].index
    if (i < offset) throw new CompactedError(i)
    if (i - offset >= this.ents.length) throw new UnavailableError(i)
    return this.ents[i - offset].term
  }

  firstIndex (): number { return this.ents[0].index + 1 }
  lastIndex (): number { return this.ents[0].index + this.ents.length - 1 }
  snapshot (): Snapshot { return this.snap }

  save (update: { entries?: Entry[], hardState?: HardState, snapshot?: Snapshot }): void {
    this.assertOpen()
    if (update.snapshot !== undefined) this.applySnapshot(update.snapshot)
    if (update.entries !== undefined && update.entries.length > 0) this.append(update.entries)
    if (update.hardState !== undefined) this.hardState = { ...update.hardState }
  }

  createSnapshot (index: number, conf: ConfState, data: Uint8Array): Snapshot {
    this.assertOpen()
    if (index <= this.snap.meta.index) throw new SnapshotOutOfDateError(index, this.snap.meta.index)
    if (index > this.lastIndex()) throw new UnavailableError(index)
    this.snap = { meta: { index, term: this.term(index), conf: copyConf(conf) }, data }
    return this.snap
  }

  /** Drop entries up to and including compactIndex. No-op if already compacted that far. */
  compact (compactIndex: number): void {
    this.assertOpen()
    const offset = this.ents[0].index
    if (compactIndex <= offset) return
    // Compacting past the snapshot would leave a gap no follower could ever be caught up across.
    if (compactIndex > this.snap.meta.index) {
      throw new RaftInputError('compactIndex', `${compactIndex} is beyond the snapshot index ${this.snap.meta.index}`)
    }
    const dummy: Entry = { term: this.ents[compactIndex - offset].term, index: compactIndex, type: 'normal', data: new Uint8Array(0) }
    this.ents = [dummy, ...this.ents.slice(compactIndex - offset + 1)]
  }

  close (): void { this.closed = true }

  /**
   * The storage a process restarted after a crash would see: only what was saved. With `lastIndex`,
   * what a disk that lied about fsync hands back (the simulator's lying-disk fault): the entries after
   * it are gone too, down to the snapshot at most; the hard state survives, its commit lowered to
   * what is left.
   */
  crashCopy (lastIndex?: number): MemoryStorage {
    const c = new MemoryStorage()
    c.hardState = { ...this.hardState }
    c.snap = this.snap // snapshots are immutable once made
    c.ents = this.ents.slice() // entries are immutable; the array is not
    if (lastIndex !== undefined && lastIndex < this.lastIndex()) {
      const last = Math.max(lastIndex, this.snap.meta.index, this.ents[0].index)
      c.ents.length = last - this.ents[0].index + 1
      c.hardState.commit = Math.min(c.hardState.commit, last)
    }
    return c
  }

  private applySnapshot (s: Snapshot): void {
    if (s.meta.index <= this.snap.meta.index) throw new SnapshotOutOfDateError(s.meta.index, this.snap.meta.index)
    this.snap = { meta: { index: s.meta.index, term: s.meta.term, conf: copyConf(s.meta.conf) }, data: s.data }
    // The core only hands over a snapshot when its log does not match it: discard the whole log.
    this.ents = [{ term: s.meta.term, index: s.meta.index, type: 'normal', data: new Uint8Array(0) }]
  }

  private append (entries: Entry[]): void {
    const offset = this.ents[0].index
    const last = entries[entries.length - 1].index
    if (last <= offset) return // all compacted already
    let first = entries[0].index
    if (first > this.lastIndex() + 1) {
      throw new RaftInputError('entries', `first index ${first} leaves a gap after last index ${this.lastIndex()}`)
    }
    // Skip the part already compacted away (it is committed and identical).
    if (first <= offset) { entries = entries.slice(offset + 1 - first); first = offset + 1 }
    // Truncate any conflicting suffix, then append.
    this.ents.length = first - offset
    for (const e of entries) this.ents.push(e)
  }

  private assertOpen (): void {
    if (this.closed) throw new RaftInputError('storage', 'closed')
  }
}

function copyConf (c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] }
}
