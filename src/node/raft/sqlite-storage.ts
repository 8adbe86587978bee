// Durable RaftStorage on better-sqlite3 (WAL, synchronous=FULL): the Raft log, hard state and
// snapshot of one node, plus a small key/value table for node metadata (incarnation, ...).
// Semantics match src/protocol/raft/memory-storage.ts exactly (the compliance suite in
// test/compliance/raft-storage.test.ts runs against both):
//   - the log starts after a "dummy" position (log_start: index + term of the last compacted entry),
//     so term(firstIndex - 1) still answers;
//   - save() is ONE transaction (the driver hands it a whole Ready: group commit, one fsync);
//     when it throws, nothing changed;
//   - a received snapshot discards the whole log; compact() never goes past the snapshot.
//
// Size on disk (issue 14: raft.db was 5x the snapshot, 514 MB for a 98-158 MB snapshot after a
// million tasks). It was three things, none of them live data: the WAL file, which sqlite never
// shrinks, stayed as big as the biggest transaction (a whole snapshot); free pages of deleted
// entries and replaced snapshots, which sqlite keeps in the file for reuse; and replacing a snapshot
// row needs room for the old and the new one at once. So: journal_size_limit truncates the WAL
// after each checkpoint; auto_vacuum=INCREMENTAL lets reclaim() hand free pages back after a
// compaction or a snapshot, keeping about one snapshot's worth as room for the next snapshot write
// (without it, every snapshot would grow the file and the next reclaim would move the whole
// snapshot down). The file stays near 2 x snapshot + log and follows the live state down.
// The snapshot's bytes are not kept in memory either (snapshot().data reads them when asked).
//
// A snapshot this node takes while running is written to a file of its own beside the database
// (`raft.db.snap-<index>`), on libuv's thread pool, and the row only names it: writing 50 MB into
// sqlite held the event loop ~0.7 s on a quiet machine, 0.8-1.5 s under load (docs/performance.md).
// The file is complete and fsynced before the row naming it commits; the file it replaces is
// deleted once that row is durable; files no row names (a crash between the two) go at open. A
// snapshot received from the leader, and one taken in one go, is written in the row as before.
//
//   const s = new SqliteStorage(join(dataDir, 'raft.db'), { conf: { voters: [id], learners: [] } })
//   s.save({ entries, hardState })      // durable when it returns

import Database from 'better-sqlite3'
import { closeSync, fsync, fsyncSync, openSync, readdirSync, readFileSync, readSync, statSync, unlinkSync } from 'node:fs'
import { open as openFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { ConfState, Entry, EntryType, HardState, RaftStorage, Snapshot } from '../../protocol/raft/types.js'
import { CompactedError, RaftInputError, SnapshotOutOfDateError, UnavailableError } from '../../protocol/raft/errors.js'
import { bootstrapStorage } from '../../protocol/raft/bootstrap.js'
import { EntryTailCache } from './entry-cache.js'

export interface SqliteStorageOptions {
  /** bootstrap configuration, used only when the database is new; omit for a node added later */
  conf?: ConfState
  /**
   * Where the bootstrap configuration lives (as MemoryStorage). 1 (default): a snapshot at index 1,
   * term 1, written by bootstrapStorage() in the same transaction that creates the database.
   * 0: a snapshot at index 0, only for clusters whose members never change.
   */
  bootstrapIndex?: 0 | 1
  /** sqlite synchronous pragma. FULL (default) fsyncs the WAL on every commit: required for Raft. */
  synchronous?: 'FULL' | 'NORMAL' | 'OFF'
  /**
   * Durability without blocking the event loop: commits are written without fsync (synchronous =
   * NORMAL) and the caller makes them durable with `await flush()`, which fsyncs the WAL file on
   * libuv's thread pool. A commit is durable once its WAL frames are on disk, which is exactly
   * what synchronous=FULL waits for inline. The Raft driver awaits flush() before it acknowledges,
   * votes or applies anything of that Ready. Overrides `synchronous`.
   */
  deferredSync?: boolean
  /** how many recent entry terms to keep in memory for term(); default 4096 */
  tailTermCache?: number
}

/** the WAL is truncated to this after a checkpoint: it grew to a whole snapshot before (see above) */
const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024
/** free pages kept beyond the snapshot's size: small writes reuse them without growing the file */
const RECLAIM_SLACK_BYTES = 4 * 1024 * 1024

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hard_state (id INTEGER PRIMARY KEY CHECK (id = 0), term INTEGER NOT NULL, vote TEXT, commit_index INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS log_start (id INTEGER PRIMARY KEY CHECK (id = 0), idx INTEGER NOT NULL, term INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 0), idx INTEGER NOT NULL, term INTEGER NOT NULL, data BLOB NOT NULL, file TEXT);
CREATE TABLE IF NOT EXISTS conf_state (id INTEGER PRIMARY KEY CHECK (id = 0), voters TEXT NOT NULL, learners TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`

const TYPE_CODE: Record<EntryType, number> = { normal: 0, conf: 1 }
const CODE_TYPE: EntryType[] = ['normal', 'conf']

interface EntryRow { idx: number, term: number, type: number, data: Buffer }

/** sqlite binds Buffers, not plain Uint8Arrays: a zero-copy view. */
function toBuffer (u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength)
}
/** and hands Buffers back: give callers plain Uint8Arrays, as MemoryStorage and the codec do. */
function toBytes (b: Buffer): Uint8Array { return new Uint8Array(b.buffer, b.byteOffset, b.byteLength) }

export class SqliteStorage implements RaftStorage {
  private readonly db: Database.Database
  private readonly st: ReturnType<SqliteStorage['prepare']>
  private readonly saveTx: (update: { entries?: Entry[], hardState?: HardState, snapshot?: Snapshot }) => void
  private readonly tailMax: number

  // In-memory mirror of small durable state, updated only after a transaction commits.
  private hard: HardState
  private snap: Snapshot
  /** index/term of the dummy entry (last compacted position) */
  private offset: number
  private offsetTerm: number
  private last: number
  /** terms of entries [tailStart, last] (tailStart > offset) */
  private tailStart: number
  private tailTerms: number[]
  /** the newest entries as written (see entry-cache.ts); only what is in the database */
  private readonly recent = new EntryTailCache()
  private closed = false
  /** bytes of the stored snapshot in the database (what reclaim() keeps free for the next one; 0 for one in a file) */
  private snapBytes = 0
  readonly deferredSync: boolean
  private readonly walPath: string
  /** the directory and name prefix of snapshot files (see the file comment) */
  private readonly dir: string
  private readonly snapPrefix: string
  /** the snapshot file the row names, if any */
  private snapFile: string | null = null
  private walFd?: number
  private dirSynced = false

  constructor (path: string, opts: SqliteStorageOptions = {}) {
    this.tailMax = opts.tailTermCache ?? 4096
    this.db = new Database(path)
    enableIncrementalVacuum(this.db)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`)
    this.deferredSync = opts.deferredSync === true
    this.walPath = `${path}-wal`
    this.dir = dirname(path)
    this.snapPrefix = `${basename(path)}.snap-`
    this.db.pragma(`synchronous = ${this.deferredSync ? 'NORMAL' : opts.synchronous ?? 'FULL'}`)
    this.db.exec(SCHEMA)
    addSnapshotFileColumn(this.db)
    this.st = this.prepare()
    this.saveTx = this.db.transaction(u => this.writeUpdate(u))
    this.hard = { term: 0, vote: null, commit: 0 }
    this.snap = { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array(0) }
    this.offset = this.offsetTerm = this.last = 0
    this.tailStart = 1
    this.tailTerms = []
    try {
      if (this.st.getHard.get() === undefined) this.db.transaction(() => this.initNew(opts))()
      this.loadMirror()
    } catch (err) {
      this.db.close()
      throw err
    }
    this.removeUnnamedSnapshotFiles()
  }

  /** A new database: empty log, conf at index 0, then (by default) the bootstrap snapshot at index 1 —
   *  all in the caller's transaction, so a crash never leaves a half-bootstrapped node. */
  private initNew (opts: SqliteStorageOptions): void {
    const conf = opts.conf ?? { voters: [], learners: [] }
    this.st.putHard.run(0, null, 0)
    this.st.putLogStart.run(0, 0)
    this.st.putSnap.run(0, 0, Buffer.alloc(0), null)
    this.st.putConf.run(JSON.stringify(conf.voters), JSON.stringify(conf.learners))
    this.loadMirror()
    if (opts.conf !== undefined && opts.bootstrapIndex !== 0) bootstrapStorage(this, opts.conf)
  }

  /** (Re)build the in-memory mirror from the database: at open, and after a rolled-back write. */
  private loadMirror (): void {
    this.recent.clear()
    const hs = this.st.getHard.get() as { term: number, vote: string | null, commit_index: number }
    this.hard = { term: hs.term, vote: hs.vote, commit: hs.commit_index }
    this.snap = this.loadSnapshot()
    const ls = this.st.getLogStart.get() as { idx: number, term: number }
    this.offset = ls.idx
    this.offsetTerm = ls.term
    const lastRow = this.st.lastIdx.get() as { idx: number | null }
    this.last = lastRow.idx ?? this.offset
    this.warmTail()
  }

  private prepare () {
    const db = this.db
    return {
      getHard: db.prepare('SELECT term, vote, commit_index FROM hard_state WHERE id = 0'),
      putHard: db.prepare('INSERT OR REPLACE INTO hard_state (id, term, vote, commit_index) VALUES (0, ?, ?, ?)'),
      getLogStart: db.prepare('SELECT idx, term FROM log_start WHERE id = 0'),
      putLogStart: db.prepare('INSERT OR REPLACE INTO log_start (id, idx, term) VALUES (0, ?, ?)'),
      getSnapMeta: db.prepare('SELECT idx, term, length(data) AS bytes, file FROM snapshot WHERE id = 0'),
      getSnapData: db.prepare('SELECT idx, data, file FROM snapshot WHERE id = 0'),
      putSnap: db.prepare('INSERT OR REPLACE INTO snapshot (id, idx, term, data, file) VALUES (0, ?, ?, ?, ?)'),
      getConf: db.prepare('SELECT voters, learners FROM conf_state WHERE id = 0'),
      putConf: db.prepare('INSERT OR REPLACE INTO conf_state (id, voters, learners) VALUES (0, ?, ?)'),
      insertEntry: db.prepare('INSERT INTO entries (idx, term, type, data) VALUES (?, ?, ?, ?)'),
      deleteFrom: db.prepare('DELETE FROM entries WHERE idx >= ?'),
      deleteUpTo: db.prepare('DELETE FROM entries WHERE idx <= ?'),
      deleteAll: db.prepare('DELETE FROM entries'),
      range: db.prepare('SELECT idx, term, type, data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx'),
      termOf: db.prepare('SELECT term FROM entries WHERE idx = ?').pluck(),
      tailTerms: db.prepare('SELECT idx, term FROM entries WHERE idx >= ? ORDER BY idx'),
      lastIdx: db.prepare('SELECT MAX(idx) AS idx FROM entries'),
      getKv: db.prepare('SELECT value FROM kv WHERE key = ?').pluck(),
      putKv: db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)'),
      delKv: db.prepare('DELETE FROM kv WHERE key = ?')
    }
  }

  private loadSnapshot (): Snapshot {
    const row = this.st.getSnapMeta.get() as { idx: number, term: number, bytes: number, file: string | null }
    const c = this.st.getConf.get() as { voters: string, learners: string }
    const conf: ConfState = { voters: JSON.parse(c.voters), learners: JSON.parse(c.learners) }
    this.snapFile = row.file
    // a named file that is gone is a damaged data directory: say so at open, not at the first read
    if (row.file !== null) statSync(join(this.dir, row.file))
    return this.lazySnapshot({ index: row.idx, term: row.term, conf }, undefined, row.file === null ? row.bytes : 0)
  }

  /**
   * A snapshot whose `data` is read from the database when asked for (at start, and to send it to
   * a follower far behind), and kept only while someone holds it: the bytes are the size of the
   * whole state (tens of MB), and were held for nothing between two snapshots. Asked for after
   * a newer snapshot replaced this one (a 'snap' message held back across a snapshot), it throws:
   * that message is not sent and the core sends the newer snapshot on its retry. `rowBytes`: what of
   * it lives in the database (0 for a snapshot in a file).
   */
  private lazySnapshot (meta: Snapshot['meta'], data: Uint8Array | undefined, rowBytes: number): Snapshot {
    let held = data !== undefined ? new WeakRef(data) : undefined
    const read = (): Uint8Array => {
      let d = held?.deref()
      if (d === undefined) {
        this.assertOpen()
        const row = this.st.getSnapData.get() as { idx: number, data: Buffer, file: string | null }
        if (row.idx !== meta.index) throw new RaftInputError('snapshot', `index ${meta.index} was replaced by ${row.idx}`)
        d = row.file === null ? toBytes(row.data) : toBytes(readFileSync(join(this.dir, row.file)))
        held = new WeakRef(d)
      }
      return d
    }
    const snap = { meta } as Snapshot
    Object.defineProperty(snap, 'data', { get: read, enumerable: true })
    this.snapBytes = rowBytes
    return snap
  }

  private warmTail (): void {
    const from = Math.max(this.offset + 1, this.last - this.tailMax + 1)
    this.tailStart = from
    this.tailTerms = []
    for (const r of this.st.tailTerms.iterate(from) as IterableIterator<{ idx: number, term: number }>) this.tailTerms.push(r.term)
  }

  // ---- reads ------------------------------------------------------------------------------

  initialState (): { hardState: HardState, confState: ConfState } {
    return { hardState: { ...this.hard }, confState: copyConf(this.snap.meta.conf) }
  }

  entries (lo: number, hi: number, maxBytes = Infinity): Entry[] {
    this.assertOpen()
    if (lo <= this.offset) throw new CompactedError(lo)
    if (hi > this.last + 1) throw new UnavailableError(hi - 1)
    if (lo > hi) throw new RaftInputError('entries range', `lo ${lo} > hi ${hi}`)
    const out: Entry[] = []
    if (lo === hi) return out
    const cached = this.recent.range(lo, hi, maxBytes)
    if (cached !== undefined) return cached
    let size = 0
    for (const r of this.st.range.iterate(lo, hi) as IterableIterator<EntryRow>) {
      size += r.data.byteLength
      if (out.length > 0 && size > maxBytes) break // iterate() finalises the statement on break
      out.push({ term: r.term, index: r.idx, type: CODE_TYPE[r.type], data: toBytes(r.data) })
    }
    return out
  }

  term (i: number): number {
    this.assertOpen()
    if (i < this.offset) throw new CompactedError(i)
    if (i > this.last) throw new UnavailableError(i)
    if (i === this.offset) return this.offsetTerm
    if (i >= this.tailStart) return this.tailTerms[i - this.tailStart]
    return this.st.termOf.get(i) as number
  }

  firstIndex (): number { return this.offset + 1 }
  lastIndex (): number { return this.last }
  snapshot (): Snapshot { return this.snap }

  // ---- writes -----------------------------------------------------------------------------

  save (update: { entries?: Entry[], hardState?: HardState, snapshot?: Snapshot }): void {
    this.assertOpen()
    try {
      this.saveTx(update)
    } catch (err) {
      this.loadMirror() // the transaction rolled back: so does the mirror
      throw err
    }
    if (update.snapshot !== undefined) { this.reclaim(); this.removeReplacedFiles() } // the old snapshot and the whole log were freed
  }

  /** Runs inside the transaction; updates the mirror as it goes (reloaded on rollback). */
  private writeUpdate (u: { entries?: Entry[], hardState?: HardState, snapshot?: Snapshot }): void {
    if (u.snapshot !== undefined) this.writeSnapshotReceived(u.snapshot)
    if (u.entries !== undefined && u.entries.length > 0) this.writeEntries(u.entries)
    if (u.hardState !== undefined) {
      const h = u.hardState
      this.st.putHard.run(h.term, h.vote, h.commit)
      this.hard = { term: h.term, vote: h.vote, commit: h.commit }
    }
  }

  private writeSnapshotReceived (s: Snapshot): void {
    if (s.meta.index <= this.snap.meta.index) throw new SnapshotOutOfDateError(s.meta.index, this.snap.meta.index)
    this.writeSnapshotRow(s.meta.index, s.meta.term, s.meta.conf, s.data)
    // The core only hands over a snapshot when its log does not match it: discard the whole log.
    this.st.deleteAll.run()
    this.recent.clear()
    this.st.putLogStart.run(s.meta.index, s.meta.term)
    this.offset = s.meta.index
    this.offsetTerm = s.meta.term
    this.last = s.meta.index
    this.tailStart = this.last + 1
    this.tailTerms = []
  }

  /** `file`: the data is in this file (writeSnapshotFile), not in the row; else `data` is */
  private writeSnapshotRow (index: number, term: number, conf: ConfState, data: Uint8Array | undefined, file: string | null = null): void {
    const inRow = file === null ? (data ?? new Uint8Array(0)) : new Uint8Array(0)
    this.st.putSnap.run(index, term, toBuffer(inRow), file)
    this.st.putConf.run(JSON.stringify(conf.voters), JSON.stringify(conf.learners))
    if (this.snapFile !== null && this.snapFile !== file) this.replacedFiles.push(this.snapFile)
    this.snapFile = file
    this.snap = this.lazySnapshot({ index, term, conf: copyConf(conf) }, file === null ? inRow : undefined, inRow.byteLength)
  }

  private writeEntries (entries: Entry[]): void {
    const lastNew = entries[entries.length - 1].index
    if (lastNew <= this.offset) return // all compacted already (committed and identical)
    let first = entries[0].index
    if (first > this.last + 1) {
      throw new RaftInputError('entries', `first index ${first} leaves a gap after last index ${this.last}`)
    }
    let k = 0
    if (first <= this.offset) { k = this.offset + 1 - first; first = this.offset + 1 }
    // Truncate any conflicting suffix (the new entries replace everything from `first` on).
    if (first <= this.last) {
      this.st.deleteFrom.run(first)
      this.recent.truncateFrom(first)
      this.last = first - 1
      if (first < this.tailStart) { this.tailStart = first; this.tailTerms = [] } else this.tailTerms.length = first - this.tailStart
    }
    for (; k < entries.length; k++) {
      const e = entries[k]
      if (e.index !== this.last + 1) throw new RaftInputError(`entries[${k}].index`, `${e.index} does not follow ${this.last}`)
      this.st.insertEntry.run(e.index, e.term, TYPE_CODE[e.type], toBuffer(e.data))
      this.recent.append(e)
      this.last = e.index
      this.tailTerms.push(e.term)
    }
    // Keep the cache bounded: drop the older half when it doubles.
    if (this.tailTerms.length > 2 * this.tailMax) {
      const drop = this.tailTerms.length - this.tailMax
      this.tailTerms = this.tailTerms.slice(drop)
      this.tailStart += drop
    }
  }

  createSnapshot (index: number, conf: ConfState, data: Uint8Array): Snapshot {
    return this.storeSnapshot(index, conf, data, null)
  }

  /** The snapshot at index whose bytes writeSnapshotFile(index, ...) wrote: the row names the file. */
  createSnapshotFromFile (index: number, conf: ConfState, file: string): Snapshot {
    if (file !== this.snapFileName(index)) throw new RaftInputError('file', `${file} is not the snapshot file of index ${index}`)
    return this.storeSnapshot(index, conf, undefined, file)
  }

  private storeSnapshot (index: number, conf: ConfState, data: Uint8Array | undefined, file: string | null): Snapshot {
    this.assertOpen()
    if (index <= this.snap.meta.index) throw new SnapshotOutOfDateError(index, this.snap.meta.index)
    if (index > this.last) throw new UnavailableError(index)
    const term = this.term(index)
    try {
      this.db.transaction(() => this.writeSnapshotRow(index, term, conf, data, file))()
    } catch (err) { this.loadMirror(); throw err }
    this.removeReplacedFiles()
    return this.snap
  }

  private snapFileName (index: number): string { return `${this.snapPrefix}${index}` }

  /**
   * Writes a snapshot's bytes to a file of its own, off the event loop (thread pool), fsynced, and
   * returns its name for createSnapshot. Writing them into the database held the event loop for
   * the whole write (see the file comment).
   */
  async writeSnapshotFile (index: number, parts: Uint8Array[]): Promise<string> {
    this.assertOpen()
    // the only file a row names is the stored snapshot's, and a new one is always for a later index
    if (index <= this.snap.meta.index) throw new SnapshotOutOfDateError(index, this.snap.meta.index)
    const name = this.snapFileName(index)
    const path = join(this.dir, name)
    const tmp = `${path}.tmp`
    try {
      const fh = await openFile(tmp, 'w')
      try {
        // one after another, never joined: joining 50 MB of fresh memory took up to a second in one turn
        const { bytesWritten } = await fh.writev(parts)
        const bytes = parts.reduce((n, p) => n + p.byteLength, 0)
        if (bytesWritten !== bytes) throw new Error(`short write of a snapshot file: ${bytesWritten} of ${bytes} bytes`)
        await fh.datasync()
      } finally {
        await fh.close()
      }
      await rename(tmp, path)
    } catch (err) {
      await unlink(tmp).catch(() => {})
      throw err
    }
    const dir = await openFile(this.dir, 'r')
    try { await dir.sync() } finally { await dir.close() }
    return name
  }

  /**
   * `length` bytes at `offset` of the stored snapshot, if it is the one of `index` (undefined
   * otherwise, or if it is shorter): from its file without reading the rest of it, so a snapshot
   * reusing pieces of the last one (src/node/cluster/snapshot-pieces.ts) reads a piece a turn.
   */
  readSnapshotRange (index: number, offset: number, length: number): Uint8Array | undefined {
    // closed while a snapshot was being encoded (a stop): the piece is encoded instead
    if (this.closed || this.snap.meta.index !== index) return undefined
    if (this.snapFile === null) {
      const data = this.snap.data
      return offset + length <= data.byteLength ? data.subarray(offset, offset + length) : undefined
    }
    let fd: number
    try { fd = openSync(join(this.dir, this.snapFile), 'r') } catch { return undefined }
    try {
      const out = Buffer.allocUnsafeSlow(length)
      return readSync(fd, out, 0, length, offset) === length ? new Uint8Array(out.buffer, out.byteOffset, length) : undefined
    } catch {
      return undefined
    } finally {
      closeSync(fd)
    }
  }

  /** A file writeSnapshotFile wrote that will not be used (a newer snapshot came first). */
  async discardSnapshotFile (file: string): Promise<void> {
    if (file === this.snapFile || !file.startsWith(this.snapPrefix)) return
    await unlink(join(this.dir, file)).catch(() => {})
  }

  /** files of replaced snapshots: deleted once the row replacing them is durable */
  private replacedFiles: string[] = []

  private removeReplacedFiles (): void {
    if (this.replacedFiles.length === 0) return
    const files = this.replacedFiles
    this.replacedFiles = []
    this.flush().then(() => {
      for (const f of files) if (f !== this.snapFile) unlink(join(this.dir, f)).catch(() => {})
    }, () => { /* not durable: the files stay until the next open removes what no row names */ })
  }

  /** at open: snapshot files no row names (a crash between writing one and the row naming it) */
  private removeUnnamedSnapshotFiles (): void {
    let names: string[]
    try { names = readdirSync(this.dir) } catch { return }
    for (const n of names) {
      if (n.startsWith(this.snapPrefix) && n !== this.snapFile) { try { unlinkSync(join(this.dir, n)) } catch { /* gone or not ours to remove */ } }
    }
  }

  /** Drop entries up to and including compactIndex. No-op if already compacted that far. */
  compact (compactIndex: number): void {
    this.assertOpen()
    if (compactIndex <= this.offset) return
    // Compacting past the snapshot would leave a gap no follower could ever be caught up across.
    if (compactIndex > this.snap.meta.index) {
      throw new RaftInputError('compactIndex', `${compactIndex} is beyond the snapshot index ${this.snap.meta.index}`)
    }
    const term = this.term(compactIndex)
    this.db.transaction(() => {
      this.st.deleteUpTo.run(compactIndex)
      this.st.putLogStart.run(compactIndex, term)
    })()
    this.recent.compactTo(compactIndex)
    this.offset = compactIndex
    this.offsetTerm = term
    if (this.tailStart <= compactIndex) {
      const drop = Math.min(this.tailTerms.length, compactIndex + 1 - this.tailStart)
      this.tailTerms = this.tailTerms.slice(drop)
      this.tailStart += drop
    }
    this.reclaim()
  }

  /**
   * Hands free pages back to the file system, keeping a snapshot's worth (+ slack) for the next
   * snapshot write (see the file comment). Bounded by what is free; a failure (full disk, say) only
   * leaves the file as big as it was. Returns the pages released.
   */
  reclaim (): number {
    this.assertOpen()
    try {
      const free = this.db.pragma('freelist_count', { simple: true }) as number
      const pageSize = this.db.pragma('page_size', { simple: true }) as number
      const keep = Math.ceil((this.snapBytes + RECLAIM_SLACK_BYTES) / pageSize)
      if (free <= keep) return 0
      this.db.pragma(`incremental_vacuum(${free - keep})`)
      return free - keep
    } catch {
      return 0
    }
  }

  // ---- node metadata ------------------------------------------------------------------------

  getMeta (key: string): string | undefined {
    this.assertOpen()
    return this.st.getKv.get(key) as string | undefined
  }

  /** Durable when it returns. `undefined` deletes the key. */
  setMeta (key: string, value: string | undefined): void {
    this.assertOpen()
    if (value === undefined) this.st.delKv.run(key)
    else this.st.putKv.run(key, value)
  }

  /**
   * With deferredSync: make every save() so far durable (fsync of the WAL file, off the event
   * loop). Without it: nothing to do, save() was durable when it returned.
   */
  flush (): Promise<void> {
    if (!this.deferredSync || this.closed) return Promise.resolve()
    if (this.walFd === undefined) {
      this.walFd = openSync(this.walPath, 'r+')
      if (!this.dirSynced) { syncDir(dirname(this.walPath)); this.dirSynced = true } // the WAL file's own existence
    }
    const fd = this.walFd
    return new Promise((resolve, reject) => { fsync(fd, err => { if (err === null) resolve(); else reject(err) }) })
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    this.db.close()
    if (this.walFd !== undefined) { try { closeSync(this.walFd) } catch { /* already gone */ } }
  }

  // ---- helpers ------------------------------------------------------------------------------

  private assertOpen (): void {
    if (this.closed) throw new RaftInputError('storage', 'closed')
  }
}

/** databases written before snapshot files had no `file` column */
function addSnapshotFileColumn (db: Database.Database): void {
  const cols = db.prepare('PRAGMA table_info(snapshot)').all() as Array<{ name: string }>
  if (!cols.some(c => c.name === 'file')) db.exec('ALTER TABLE snapshot ADD COLUMN file TEXT')
}

/**
 * auto_vacuum=INCREMENTAL (reclaim() needs it). A new database gets it before its first table; an
 * older one is converted once by a VACUUM (it rewrites the live pages: a few seconds for hundreds
 * of MB, once). If that fails (full disk), the database works as before, only without reclaim.
 */
function enableIncrementalVacuum (db: Database.Database): void {
  const INCREMENTAL = 2
  if (db.pragma('auto_vacuum', { simple: true }) === INCREMENTAL) return
  db.pragma('auto_vacuum = INCREMENTAL')
  const tables = db.prepare("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'").pluck().get() as number
  if (tables === 0) return // a new file: the pragma alone takes effect
  try { db.exec('VACUUM') } catch { /* stays NONE */ }
}

function copyConf (c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] }
}

/** once per database: the directory entry of the WAL file must survive a power cut too */
function syncDir (dir: string): void {
  const fd = openSync(dir, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}
