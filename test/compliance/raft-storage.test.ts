// One RaftStorage compliance suite, run against every implementation (MemoryStorage and
// SqliteStorage), so a second implementation cannot drift from the first. "Reopen" means what a
// restarted process would see: MemoryStorage.crashCopy(), or a fresh SqliteStorage on the same file.
// A seeded differential test then drives both with the same random operations and compares them.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import { SqliteStorage } from '../../src/node/raft/sqlite-storage.js'
import { CompactedError, RaftInputError, SnapshotOutOfDateError, UnavailableError } from '../../src/protocol/raft/errors.js'
import type { ConfState, Entry, RaftStorage } from '../../src/protocol/raft/types.js'
import { mulberry32 } from '../../src/sched/rng.js'

interface Impl {
  name: string
  create: (conf?: ConfState) => RaftStorage
  /** the storage a restarted process would open (the old one is closed/dropped) */
  reopen: (s: RaftStorage) => RaftStorage
  cleanup: () => void
}

const enc = new TextEncoder()
const ent = (index: number, term: number, s = `e${index}t${term}`, type: Entry['type'] = 'normal'): Entry =>
  ({ index, term, type, data: enc.encode(s) })
const range = (lo: number, hi: number, term: number): Entry[] => Array.from({ length: hi - lo + 1 }, (_, k) => ent(lo + k, term))

function memoryImpl (): Impl {
  return {
    name: 'MemoryStorage',
    create: conf => new MemoryStorage({ conf }),
    reopen: s => (s as MemoryStorage).crashCopy(),
    cleanup: () => {}
  }
}

function sqliteImpl (opts: { tailTermCache?: number } = {}): Impl {
  const dir = mkdtempSync(join(tmpdir(), 'rc-raft-storage-'))
  let n = 0
  const paths = new Map<RaftStorage, string>()
  return {
    name: `SqliteStorage${opts.tailTermCache !== undefined ? ` (tail cache ${opts.tailTermCache})` : ''}`,
    create: conf => {
      const path = join(dir, `s${n++}.db`)
      const s = new SqliteStorage(path, { conf, ...opts })
      paths.set(s, path)
      return s
    },
    reopen: s => {
      const path = paths.get(s)
      assert.ok(path !== undefined)
      s.close()
      const r = new SqliteStorage(path, opts)
      paths.set(r, path)
      return r
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true })
  }
}

/** Everything observable about a storage, for comparisons. */
function observe (s: RaftStorage): unknown {
  const first = s.firstIndex()
  const last = s.lastIndex()
  const terms: number[] = []
  for (let i = first - 1; i <= last; i++) terms.push(s.term(i))
  return {
    initial: s.initialState(),
    first,
    last,
    terms,
    entries: first <= last ? s.entries(first, last + 1).map(e => ({ ...e, data: Array.from(e.data) })) : [],
    snapshot: { meta: s.snapshot().meta, data: Array.from(s.snapshot().data) }
  }
}

function suite (make: () => Impl): void {
  const impl = make()
  describe(`RaftStorage compliance: ${impl.name}`, () => {
    const open: RaftStorage[] = []
    const create = (conf?: ConfState): RaftStorage => { const s = impl.create(conf); open.push(s); return s }
    const reopen = (s: RaftStorage): RaftStorage => { const r = impl.reopen(s); open.push(r); return r }
    after(() => { for (const s of open) s.close(); impl.cleanup() })

    it('without a conf starts empty at index 0 (a node to be added later)', () => {
      const s = create()
      assert.deepEqual(s.initialState(), { hardState: { term: 0, vote: null, commit: 0 }, confState: { voters: [], learners: [] } })
      assert.equal(s.firstIndex(), 1)
      assert.equal(s.lastIndex(), 0)
      assert.equal(s.term(0), 0)
      assert.throws(() => s.term(1), UnavailableError)
      assert.deepEqual(s.entries(1, 1), [])
      assert.equal(s.snapshot().meta.index, 0)
    })

    it('with a conf is bootstrapped: the conf is a snapshot at index 1, term 1, durably', () => {
      const s = create({ voters: ['b', 'a'], learners: ['c'] })
      const expected = { hardState: { term: 1, vote: null, commit: 1 }, confState: { voters: ['a', 'b'], learners: ['c'] } }
      assert.deepEqual(s.initialState(), expected)
      assert.equal(s.firstIndex(), 2)
      assert.equal(s.lastIndex(), 1)
      assert.equal(s.term(1), 1)
      assert.throws(() => s.term(0), CompactedError)
      assert.throws(() => s.term(2), UnavailableError)
      assert.deepEqual(s.snapshot().meta, { index: 1, term: 1, conf: expected.confState })
      s.save({ entries: [ent(2, 1)] })
      const r = reopen(s)
      assert.deepEqual(r.initialState(), expected)
      assert.equal(r.lastIndex(), 2)
    })

    it('refuses to bootstrap a conf without voters', () => {
      assert.throws(() => create({ voters: [], learners: ['x'] }), RaftInputError)
    })

    it('appends and reads back entries with type and bytes intact', () => {
      const s = create()
      const es = [ent(1, 1), ent(2, 1, '', 'normal'), ent(3, 2, 'conf!', 'conf')]
      es[1].data = new Uint8Array(0)
      s.save({ entries: es })
      assert.equal(s.lastIndex(), 3)
      const got = s.entries(1, 4)
      assert.deepEqual(got.map(e => [e.index, e.term, e.type, Array.from(e.data)]), es.map(e => [e.index, e.term, e.type, Array.from(e.data)]))
      assert.ok(got.every(e => e.data instanceof Uint8Array))
      assert.deepEqual([s.term(1), s.term(2), s.term(3)], [1, 1, 2])
    })

    it('truncates a conflicting suffix', () => {
      const s = create()
      s.save({ entries: [ent(1, 1, 'aa'), ent(2, 1, 'bb'), ent(3, 1, 'cc')] })
      s.save({ entries: [ent(2, 2, 'xx')] })
      assert.equal(s.lastIndex(), 2)
      assert.equal(s.term(2), 2)
      assert.throws(() => s.term(3), UnavailableError)
      assert.equal(new TextDecoder().decode(s.entries(2, 3)[0].data), 'xx')
      s.save({ entries: [ent(3, 3), ent(4, 3)] })
      assert.equal(s.lastIndex(), 4)
      const r = reopen(s)
      assert.deepEqual([r.term(1), r.term(2), r.term(3), r.term(4)], [1, 2, 3, 3])
    })

    it('limits entries() by bytes but returns at least one entry', () => {
      const s = create()
      s.save({ entries: [ent(1, 1, 'aa'), ent(2, 1, 'bb'), ent(3, 1, 'cc')] })
      assert.equal(s.entries(1, 4, 1).length, 1)
      assert.equal(s.entries(1, 4, 4).length, 2)
      assert.equal(s.entries(1, 4, 5).length, 2)
      assert.equal(s.entries(1, 4, 6).length, 3)
      assert.equal(s.entries(2, 4).length, 2)
    })

    it('rejects bad ranges with typed errors', () => {
      const s = create()
      s.save({ entries: range(1, 3, 1) })
      assert.throws(() => s.entries(1, 5), UnavailableError)
      assert.throws(() => s.entries(0, 2), CompactedError)
      assert.throws(() => s.entries(3, 2), RaftInputError)
      assert.throws(() => s.term(4), UnavailableError)
    })

    it('refuses an append that leaves a gap, and changes nothing', () => {
      const s = create()
      s.save({ entries: range(1, 2, 1), hardState: { term: 1, vote: 'a', commit: 1 } })
      assert.throws(() => s.save({ entries: [ent(5, 2)], hardState: { term: 9, vote: 'z', commit: 2 } }), RaftInputError)
      assert.equal(s.lastIndex(), 2)
      assert.equal(s.initialState().hardState.term, 1)
      assert.equal(reopen(s).lastIndex(), 2)
    })

    it('persists hard state (vote null and set) across reopen', () => {
      const s = create({ voters: ['a'], learners: [] })
      s.save({ hardState: { term: 3, vote: null, commit: 0 } })
      assert.deepEqual(reopen(s).initialState().hardState, { term: 3, vote: null, commit: 0 })
      const t = create()
      t.save({ entries: range(1, 4, 2), hardState: { term: 4, vote: 'b', commit: 4 } })
      const r = reopen(t)
      assert.deepEqual(r.initialState().hardState, { term: 4, vote: 'b', commit: 4 })
      assert.equal(r.lastIndex(), 4)
    })

    it('re-appending identical entries is harmless', () => {
      const s = create()
      s.save({ entries: range(1, 5, 1) })
      s.save({ entries: range(3, 5, 1) })
      assert.equal(s.lastIndex(), 5)
      const seen = observe(s)
      assert.deepEqual(observe(reopen(s)), seen)
    })

    it('creates snapshots, compacts, and rejects out-of-date snapshots', () => {
      const s = create()
      s.save({ entries: [ent(1, 1), ent(2, 1), ent(3, 2)], hardState: { term: 2, vote: 'a', commit: 3 } })
      const snap = s.createSnapshot(2, { voters: ['a'], learners: [] }, new Uint8Array([7]))
      assert.equal(snap.meta.term, 1)
      assert.equal(snap.meta.index, 2)
      assert.throws(() => s.compact(3), RaftInputError)
      s.compact(2)
      s.compact(1) // already compacted that far: no-op
      const seen = observe(s)
      assert.equal(s.firstIndex(), 3)
      assert.equal(s.term(2), 1)
      assert.throws(() => s.term(1), CompactedError)
      assert.throws(() => s.entries(2, 3), CompactedError)
      assert.throws(() => s.createSnapshot(2, { voters: [], learners: [] }, new Uint8Array()), SnapshotOutOfDateError)
      assert.throws(() => s.createSnapshot(9, { voters: [], learners: [] }, new Uint8Array()), UnavailableError)
      const r = reopen(s)
      assert.deepEqual(observe(r), seen)
      assert.equal(r.firstIndex(), 3)
      assert.equal(r.term(2), 1)
      assert.deepEqual(Array.from(r.snapshot().data), [7])
      assert.deepEqual(r.initialState().confState, { voters: ['a'], learners: [] })
    })

    it('appending entries at or below the compacted index skips them', () => {
      const s = create()
      s.save({ entries: range(1, 5, 1) })
      s.createSnapshot(3, { voters: ['a'], learners: [] }, new Uint8Array())
      s.compact(3)
      s.save({ entries: range(1, 2, 1) }) // all compacted: ignored
      assert.equal(s.lastIndex(), 5)
      s.save({ entries: [ent(2, 1), ent(3, 1), ent(4, 2)] }) // tail from 4 replaces
      assert.equal(s.lastIndex(), 4)
      assert.equal(s.term(4), 2)
      assert.equal(s.firstIndex(), 4)
    })

    it('applying a received snapshot replaces the log; an old one changes nothing', () => {
      const s = create()
      s.save({ entries: range(1, 2, 1) })
      s.save({ snapshot: { meta: { index: 10, term: 3, conf: { voters: ['x'], learners: [] } }, data: new Uint8Array([1, 2]) }, entries: [ent(11, 3)] })
      assert.equal(s.firstIndex(), 11)
      assert.equal(s.lastIndex(), 11)
      assert.equal(s.term(10), 3)
      assert.deepEqual(s.initialState().confState.voters, ['x'])
      const before = observe(s)
      assert.throws(() => s.save({ snapshot: { meta: { index: 5, term: 2, conf: { voters: [], learners: [] } }, data: new Uint8Array() } }), SnapshotOutOfDateError)
      assert.deepEqual(observe(s), before)
      const r = reopen(s)
      assert.deepEqual(observe(r), before)
    })

    it('survives reopen with a long log (term cache boundaries)', () => {
      const s = create()
      for (let b = 0; b < 20; b++) s.save({ entries: range(b * 50 + 1, b * 50 + 50, 1 + Math.floor(b / 3)) })
      s.save({ entries: range(600, 620, 99) })
      const seen = observe(s)
      const r = reopen(s)
      assert.equal(r.lastIndex(), 620)
      for (let i = 1; i < 600; i += 37) assert.equal(r.term(i), 1 + Math.floor((i - 1) / 50 / 3))
      assert.equal(r.term(620), 99)
      assert.deepEqual(observe(r), seen)
    })
  })
}

suite(memoryImpl)
suite(() => sqliteImpl())
suite(() => sqliteImpl({ tailTermCache: 4 }))

// ---- differential: sqlite behaves exactly like memory under random operations ----------------------


describe('RaftStorage differential: SqliteStorage vs MemoryStorage (seeded random ops)', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}: same observable state after every operation and every reopen`, () => {
      const rng = mulberry32(seed)
      const int = (n: number) => Math.floor(rng() * n)
      const sq = sqliteImpl({ tailTermCache: 8 })
      let a: RaftStorage = new MemoryStorage({ conf: { voters: ['n1'], learners: [] } })
      let b: RaftStorage = sq.create({ voters: ['n1'], learners: [] })
      let term = 1
      const outcomes: Record<string, number> = {}
      const both = (f: (s: RaftStorage) => unknown): void => {
        let ea: unknown, eb: unknown
        try { f(a) } catch (e) { ea = e }
        try { f(b) } catch (e) { eb = e }
        const k = (ea as Error | undefined)?.name ?? 'ok'
        outcomes[k] = (outcomes[k] ?? 0) + 1
        assert.equal((eb as Error | undefined)?.name, (ea as Error | undefined)?.name, `seed ${seed}: errors differ: ${String(ea)} vs ${String(eb)}`)
      }
      try {
        for (let step = 0; step < 300; step++) {
          const op = int(100)
          const last = a.lastIndex()
          if (op < 55) {
            // append, sometimes overlapping (conflict) or with a gap
            if (int(4) === 0) term++
            const from = Math.max(1, last + 1 - (int(3) === 0 ? int(6) : 0) + (int(25) === 0 ? 2 : 0))
            const n = 1 + int(12)
            const es = range(from, from + n - 1, term)
            const hs = int(2) === 0 ? { term, vote: int(2) === 0 ? null : `n${int(3)}`, commit: Math.min(from + n - 1, int(last + n + 1)) } : undefined
            both(s => s.save({ entries: es, hardState: hs }))
          } else if (op < 70) {
            const idx = a.snapshot().meta.index + 1 + int(Math.max(1, last - a.snapshot().meta.index + 2))
            const voter = `n${int(5)}`
            both(s => s.createSnapshot(idx, { voters: ['n1', voter], learners: [] }, enc.encode(`snap${idx}`)))
          } else if (op < 80) {
            const idx = a.firstIndex() - 1 + int(Math.max(1, a.snapshot().meta.index - a.firstIndex() + 3))
            both(s => s.compact(idx))
          } else if (op < 85) {
            term++
            const idx = last + int(10) - 3
            both(s => s.save({ snapshot: { meta: { index: idx, term, conf: { voters: ['n9'], learners: ['n1'] } }, data: enc.encode(`recv${idx}`) } }))
          } else if (op < 95) {
            const lo = a.firstIndex() - 1 + int(4)
            const hi = lo + int(8)
            const max = int(3) === 0 ? int(40) : undefined
            let ra: unknown, rb: unknown
            both(s => { const r = s.entries(lo, hi, max).map(e => [e.index, e.term, Array.from(e.data)]); if (s === a) ra = r; else rb = r })
            assert.deepEqual(rb, ra)
          } else {
            a = (a as MemoryStorage).crashCopy()
            b = sq.reopen(b)
          }
          assert.deepEqual(observe(b), observe(a), `seed ${seed} step ${step}`)
        }
        // the random walk must have exercised both successes and the typed refusals
        assert.ok(outcomes.ok > 150, JSON.stringify(outcomes))
        assert.ok(Object.keys(outcomes).length >= 3, JSON.stringify(outcomes))
        assert.ok(a.lastIndex() > 50 && a.snapshot().meta.index > 0, `lastIndex ${a.lastIndex()}, snapshot ${a.snapshot().meta.index}`)
      } finally {
        b.close()
        sq.cleanup()
      }
    })
  }
})

// ---- SqliteStorage specifics (not part of the RaftStorage interface) -----------------------------

describe('SqliteStorage specifics', () => {
  let dir: string
  before(() => { dir = mkdtempSync(join(tmpdir(), 'rc-sqlite-specific-')) })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('runs in WAL mode with synchronous=FULL by default', () => {
    const s = new SqliteStorage(join(dir, 'pragmas.db'))
    try {
      const db = (s as unknown as { db: { pragma: (p: string, o: { simple: boolean }) => unknown } }).db
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
      assert.equal(db.pragma('synchronous', { simple: true }), 2) // 2 = FULL
    } finally { s.close() }
  })

  it('getMeta/setMeta are durable, and undefined deletes', () => {
    const path = join(dir, 'meta.db')
    const s = new SqliteStorage(path)
    assert.equal(s.getMeta('incarnation'), undefined)
    s.setMeta('incarnation', '1')
    s.setMeta('incarnation', '2')
    s.setMeta('other', 'x')
    s.close()
    const r = new SqliteStorage(path)
    assert.equal(r.getMeta('incarnation'), '2')
    r.setMeta('other', undefined)
    assert.equal(r.getMeta('other'), undefined)
    r.close()
  })

  it('a save that fails half-way changes nothing, in memory or on disk', () => {
    const path = join(dir, 'atomic.db')
    const s = new SqliteStorage(path, { conf: { voters: ['a'], learners: [] } })
    s.save({ entries: [ent(2, 1), ent(3, 1)], hardState: { term: 1, vote: 'a', commit: 3 } })
    const before = observe(s)
    // entry 4 is fine, entry 5 has data sqlite cannot bind: the whole save must roll back
    const bad = [ent(3, 2), ent(4, 2), { ...ent(5, 2), data: { not: 'bytes' } as unknown as Uint8Array }]
    assert.throws(() => s.save({ entries: bad, hardState: { term: 2, vote: 'b', commit: 4 } }))
    assert.deepEqual(observe(s), before)
    s.close()
    const r = new SqliteStorage(path)
    assert.deepEqual(observe(r), before)
    r.close()
  })

  it('a closed storage refuses writes with a typed error', () => {
    const s = new SqliteStorage(join(dir, 'closed.db'))
    s.close()
    s.close() // idempotent
    assert.throws(() => s.save({ entries: [ent(1, 1)] }), RaftInputError)
    assert.throws(() => s.setMeta('k', 'v'), RaftInputError)
  })

  it('the file follows the live log and snapshot: free pages and the WAL are handed back (issue 14)', () => {
    const path = join(dir, 'size.db')
    const s = new SqliteStorage(path, { conf: { voters: ['a'], learners: [] } })
    const fileMb = (): number => ['', '-wal'].reduce((n, x) => n + (existsSync(path + x) ? statSync(path + x).size : 0), 0) / 1048576
    const big = (i: number, t: number): Entry => ({ index: i, term: t, type: 'normal', data: new Uint8Array(256 * 1024).fill(i & 255) })
    let last = 1
    // each round: 8 MiB of entries, a snapshot, compaction of all but 4 entries; the state shrinks
    for (const snapMb of [24, 24, 24, 12, 6, 3, 3, 3]) {
      const es: Entry[] = []
      for (let k = 0; k < 32; k++) es.push(big(++last, 1))
      s.save({ entries: es, hardState: { term: 1, vote: 'a', commit: last } })
      s.createSnapshot(last, { voters: ['a'], learners: [] }, new Uint8Array(snapMb * 1048576).fill(snapMb))
      s.compact(last - 4)
    }
    // live: 1 MiB of log + a 3 MiB snapshot; kept free: a snapshot + 4 MiB; the WAL truncated to
    // 16 MiB. Measured: 11 + 16 MiB; without reclaim and the WAL limit 57 + 24 MiB (the high water).
    assert.ok(fileMb() < 32, `raft.db + wal ${fileMb().toFixed(1)} MiB`)
    const db = (s as unknown as { db: { pragma: (p: string, o: { simple: boolean }) => unknown } }).db
    assert.equal(db.pragma('auto_vacuum', { simple: true }), 2) // INCREMENTAL
    assert.equal(s.snapshot().data.byteLength, 3 * 1048576)
    assert.equal(s.snapshot().data[0], 3)
    s.close()
    const r = new SqliteStorage(path)
    assert.equal(r.snapshot().meta.index, last)
    assert.equal(r.snapshot().data[3 * 1048576 - 1], 3) // read from the file when asked for
    r.close()
  })

  it('converts an older database to incremental vacuum at open, keeping its contents', () => {
    const path = join(dir, 'old.db')
    const old = new Database(path)
    old.pragma('journal_mode = WAL')
    old.close()
    const s = new SqliteStorage(path, { conf: { voters: ['a'], learners: [] } })
    s.save({ entries: [ent(2, 1)], hardState: { term: 1, vote: 'a', commit: 2 } })
    s.close()
    // an existing file made before auto_vacuum: turn it off again the hard way, then reopen
    const raw = new Database(path)
    raw.pragma('auto_vacuum = NONE'); raw.exec('VACUUM')
    assert.equal(raw.pragma('auto_vacuum', { simple: true }), 0)
    raw.close()
    const r = new SqliteStorage(path)
    const db = (r as unknown as { db: { pragma: (p: string, o: { simple: boolean }) => unknown } }).db
    assert.equal(db.pragma('auto_vacuum', { simple: true }), 2)
    assert.deepEqual(r.entries(2, 3).map(e => e.index), [2])
    r.close()
  })

  it('a snapshot in a file of its own: written off the event loop, named by the row, read back after reopen; the replaced file goes once the row is durable', async () => {
    const path = join(dir, 'snapfile.db')
    const s = new SqliteStorage(path, { conf: { voters: ['a'], learners: [] }, deferredSync: true })
    s.save({ entries: range(2, 40, 1), hardState: { term: 1, vote: 'a', commit: 40 } })
    await s.flush()
    const big = new Uint8Array(2 * 1048576).fill(7)
    const f1 = await s.writeSnapshotFile(20, [big.subarray(0, 1000), big.subarray(1000)])
    assert.equal(f1, 'snapfile.db.snap-20')
    assert.equal(statSync(join(dir, f1)).size, big.byteLength)
    s.createSnapshotFromFile(20, { voters: ['a'], learners: [] }, f1)
    s.compact(15)
    // the row holds no bytes: the database does not keep room for a snapshot it will not hold
    const db = (s as unknown as { db: Database.Database }).db
    assert.equal(db.prepare('SELECT length(data) FROM snapshot').pluck().get(), 0)
    assert.deepEqual(s.snapshot().data, big)
    const f2 = await s.writeSnapshotFile(30, [new Uint8Array([1, 2]), new Uint8Array([3])])
    assert.throws(() => s.createSnapshotFromFile(31, { voters: ['a'], learners: [] }, f2), RaftInputError)
    s.createSnapshotFromFile(30, { voters: ['a'], learners: [] }, f2)
    await s.flush()
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(existsSync(join(dir, f1)), false, 'the replaced file was removed')
    // a crash between a file and its row leaves a file no row names: gone at the next open
    writeFileSync(join(dir, 'snapfile.db.snap-35.tmp'), 'half')
    writeFileSync(join(dir, 'snapfile.db.snap-36'), 'whole, never named')
    s.close()
    const r = new SqliteStorage(path, { deferredSync: true })
    assert.equal(r.snapshot().meta.index, 30)
    assert.deepEqual([...r.snapshot().data], [1, 2, 3])
    assert.deepEqual(readdirSync(dir).filter(n => n.startsWith('snapfile.db.snap-')), [f2])
    // a snapshot from the leader is written in the row, and the file it replaces goes
    r.save({ snapshot: { meta: { index: 50, term: 2, conf: { voters: ['a'], learners: [] } }, data: new Uint8Array([9]) } })
    await r.flush()
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.deepEqual([...r.snapshot().data], [9])
    assert.deepEqual(readdirSync(dir).filter(n => n.startsWith('snapfile.db.snap-')), [])
    // a file for an index at or below the stored snapshot is refused before anything is written
    await assert.rejects(r.writeSnapshotFile(50, [new Uint8Array(1)]), SnapshotOutOfDateError)
    r.close()
  })

  it('a database whose snapshot row names a missing file refuses to open (a damaged data directory)', async () => {
    const path = join(dir, 'lostfile.db')
    const s = new SqliteStorage(path, { conf: { voters: ['a'], learners: [] } })
    s.save({ entries: range(2, 10, 1), hardState: { term: 1, vote: 'a', commit: 10 } })
    const f = await s.writeSnapshotFile(8, [new Uint8Array([5])])
    s.createSnapshotFromFile(8, { voters: ['a'], learners: [] }, f)
    s.close()
    rmSync(join(dir, f))
    assert.throws(() => new SqliteStorage(path), /ENOENT/)
  })

  it('adds the snapshot file column to a database made before it, keeping its snapshot', () => {
    const path = join(dir, 'nofilecol.db')
    const old = new Database(path)
    old.exec(`CREATE TABLE hard_state (id INTEGER PRIMARY KEY CHECK (id = 0), term INTEGER NOT NULL, vote TEXT, commit_index INTEGER NOT NULL);
      CREATE TABLE log_start (id INTEGER PRIMARY KEY CHECK (id = 0), idx INTEGER NOT NULL, term INTEGER NOT NULL);
      CREATE TABLE entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL);
      CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 0), idx INTEGER NOT NULL, term INTEGER NOT NULL, data BLOB NOT NULL);
      CREATE TABLE conf_state (id INTEGER PRIMARY KEY CHECK (id = 0), voters TEXT NOT NULL, learners TEXT NOT NULL);
      INSERT INTO hard_state VALUES (0, 3, 'a', 12); INSERT INTO log_start VALUES (0, 12, 3);
      INSERT INTO snapshot VALUES (0, 12, 3, x'0a0b'); INSERT INTO conf_state VALUES (0, '["a"]', '[]');`)
    old.close()
    const r = new SqliteStorage(path)
    assert.equal(r.snapshot().meta.index, 12)
    assert.deepEqual([...r.snapshot().data], [10, 11])
    r.close()
  })

  it('refuses non-contiguous entries in one save (programmer error), changing nothing', () => {
    const s = new SqliteStorage(join(dir, 'contig.db'))
    s.save({ entries: [ent(1, 1)] })
    assert.throws(() => s.save({ entries: [ent(2, 1), ent(4, 1)] }), RaftInputError)
    assert.equal(s.lastIndex(), 1)
    s.close()
  })
})
