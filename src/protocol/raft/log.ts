// The Raft log as the core sees it: a stable prefix in RaftStorage and an unstable suffix (entries
// and possibly a snapshot) not yet persisted, handed to the driver through Ready (etcd's raftLog +
// unstable). Indices: (snapshot/compacted) < firstIndex .. stable .. unstable.offset .. lastIndex.
import type { Entry, RaftStorage, Snapshot } from './types.js'
import { CompactedError, UnavailableError } from './errors.js'

export function entrySize (e: Entry): number { return e.data.byteLength }

export class RaftLog {
  /** highest index known committed; invariant: committed <= lastIndex() */
  committed: number
  /** highest index handed to the driver and advanced; invariant: applied <= committed */
  applied: number
  /** unstable entries start at `offset` (= index of unstableEnts[0]) */
  private offset: number
  private unstableEnts: Entry[] = []
  private unstableSnap: Snapshot | undefined
  /**
   * The lowest index whose entry was replaced (a conflicting suffix overwritten, or the whole log by
   * a snapshot) since the core last looked (takeOverwrite): what the driver reported durable there
   * was another entry's durability. Infinity when nothing was replaced.
   */
  private overwrittenFrom = Number.POSITIVE_INFINITY

  constructor (readonly storage: RaftStorage) {
    this.offset = storage.lastIndex() + 1
    this.committed = storage.firstIndex() - 1
    this.applied = this.committed
  }

  firstIndex (): number {
    return this.unstableSnap !== undefined ? this.unstableSnap.meta.index + 1 : this.storage.firstIndex()
  }

  lastIndex (): number {
    if (this.unstableEnts.length > 0) return this.offset + this.unstableEnts.length - 1
    if (this.unstableSnap !== undefined) return this.unstableSnap.meta.index
    return this.storage.lastIndex()
  }

  /** term of entry i, or undefined if compacted or beyond the log */
  term (i: number): number | undefined {
    if (i >= this.offset) {
      const e = this.unstableEnts[i - this.offset]
      return e === undefined ? undefined : e.term
    }
    const snap = this.unstableSnap
    if (snap !== undefined) return i === snap.meta.index ? snap.meta.term : undefined
    if (i < this.storage.firstIndex() - 1 || i > this.storage.lastIndex()) return undefined
    try {
      return this.storage.term(i)
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return undefined
      throw err
    }
  }

  lastTerm (): number {
    const t = this.term(this.lastIndex())
    if (t === undefined) throw new Error('raft: term of last index unavailable') // a bug
    return t
  }

  matchTerm (i: number, term: number): boolean { return this.term(i) === term }

  /** Candidate's log (lastIndex, lastTerm) at least as up to date as ours (§5.4.1) */
  isUpToDate (lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm()
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex())
  }

  /**
   * AppendEntries consistency check and append (§5.3). Returns the index of the last new entry,
   * or -1 if the log does not contain an entry at prevIndex with prevTerm.
   */
  maybeAppend (prevIndex: number, prevTerm: number, leaderCommit: number, ents: Entry[]): number {
    if (!this.matchTerm(prevIndex, prevTerm)) return -1
    const lastNew = prevIndex + ents.length
    const ci = this.findConflict(ents)
    if (ci !== 0) {
      if (ci <= this.committed) throw new Error(`raft: entry ${ci} conflicts with committed entry (committed ${this.committed})`)
      this.append(ents.slice(ci - (prevIndex + 1)))
    }
    this.commitTo(Math.min(leaderCommit, lastNew))
    return lastNew
  }

  /** first index whose entry is absent or has another term; 0 if all present and matching */
  private findConflict (ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index
    }
    return 0
  }

  /**
   * The largest index <= index whose term is <= term (the fast-backtracking hint), and its term.
   * Bounded by the log: stops at the first unavailable index.
   */
  findConflictByTerm (index: number, term: number): [number, number] {
    for (let i = index; ; i--) {
      const t = this.term(i)
      if (t === undefined) return [i, 0]
      if (t <= term) return [i, t]
    }
  }

  append (ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex()
    const after = ents[0].index
    if (after <= this.committed) throw new Error(`raft: append at ${after} would overwrite committed ${this.committed}`)
    if (after <= this.lastIndex() && after < this.overwrittenFrom) this.overwrittenFrom = after
    const end = this.offset + this.unstableEnts.length
    if (after === end) {
      for (const e of ents) this.unstableEnts.push(e)
    } else if (after <= this.offset) {
      // Replaces the whole unstable part and part of storage (the driver truncates storage on save).
      this.offset = after
      this.unstableEnts = ents.slice()
    } else {
      this.unstableEnts = this.unstableEnts.slice(0, after - this.offset).concat(ents)
    }
    return this.lastIndex()
  }

  /** entries [lo, hi) limited to maxBytes (at least one); throws CompactedError below firstIndex */
  slice (lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new CompactedError(lo)
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1)
    if (lo >= hi) return []
    let out: Entry[] = []
    let size = 0
    if (lo < this.offset) {
      out = this.storage.entries(lo, Math.min(hi, this.offset), maxBytes)
      for (const e of out) size += entrySize(e)
      if (out.length < Math.min(hi, this.offset) - lo) return out // hit the byte limit
    }
    for (let i = Math.max(lo, this.offset); i < hi; i++) {
      const e = this.unstableEnts[i - this.offset]
      size += entrySize(e)
      if (out.length > 0 && size > maxBytes) break
      out.push(e)
    }
    return out
  }

  commitTo (c: number): void {
    if (c <= this.committed) return
    if (c > this.lastIndex()) throw new Error(`raft: commit ${c} beyond last index ${this.lastIndex()}`)
    this.committed = c
  }

  appliedTo (i: number): void {
    if (i === 0 || i <= this.applied) return
    if (i > this.committed) throw new Error(`raft: applied ${i} beyond committed ${this.committed}`)
    this.applied = i
  }

  /** the last index handed to the driver to write (it may not be durable yet) */
  lastHandedOut (): number { return this.offset - 1 }

  /** the lowest index replaced since the last call (Infinity: none), and forget it */
  takeOverwrite (): number {
    const from = this.overwrittenFrom
    this.overwrittenFrom = Number.POSITIVE_INFINITY
    return from
  }

  hasPendingSnapshot (): boolean { return this.unstableSnap !== undefined }
  pendingSnapshot (): Snapshot | undefined { return this.unstableSnap }
  unstableEntries (): Entry[] { return this.unstableEnts }

  /** committed entries not yet applied (none while a snapshot waits to be applied) */
  nextCommittedEntries (maxBytes: number): Entry[] {
    if (this.unstableSnap !== undefined) return []
    if (this.committed <= this.applied) return []
    return this.slice(this.applied + 1, this.committed + 1, maxBytes)
  }

  hasNextCommittedEntries (): boolean {
    return this.unstableSnap === undefined && this.committed > this.applied
  }

  /** the driver persisted entries up to (i, t) */
  stableTo (i: number, t: number): void {
    if (i < this.offset) return
    const e = this.unstableEnts[i - this.offset]
    if (e === undefined || e.term !== t) return // replaced meanwhile: still unstable
    this.unstableEnts = this.unstableEnts.slice(i + 1 - this.offset)
    this.offset = i + 1
  }

  stableSnapTo (i: number): void {
    if (this.unstableSnap !== undefined && this.unstableSnap.meta.index === i) this.unstableSnap = undefined
  }

  /** install a snapshot: the whole log is replaced by it */
  restore (s: Snapshot): void {
    this.overwrittenFrom = 0
    this.committed = s.meta.index
    this.offset = s.meta.index + 1
    this.unstableEnts = []
    this.unstableSnap = s
  }

  snapshot (): Snapshot { return this.unstableSnap ?? this.storage.snapshot() }

  /** true if some entry in (applied, committed] is a conf change */
  hasUnappliedConfChange (): boolean {
    if (this.unstableSnap !== undefined) return false
    for (let lo = this.applied + 1; lo <= this.committed;) {
      const ents = this.slice(lo, this.committed + 1, 1 << 20)
      for (const e of ents) if (e.type === 'conf') return true
      lo += ents.length
    }
    return false
  }
}
