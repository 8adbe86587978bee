import assert from 'node:assert/strict'
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import { CompactedError, RaftInputError, SnapshotOutOfDateError, UnavailableError } from '../../src/protocol/raft/errors.js'
import { bootstrapStorage } from '../../src/protocol/raft/bootstrap.js'
import type { Entry } from '../../src/protocol/raft/types.js'

const ent = (index: number, term: number, s = ''): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(s) })

describe('raft MemoryStorage', () => {
  it('bootstraps the configuration as a snapshot at index 1, term 1', () => {
    const s = new MemoryStorage({ conf: { voters: ['b', 'a'], learners: [] }, bootstrapIndex: 1 })
    assert.deepEqual(s.initialState().confState, { voters: ['a', 'b'], learners: [] })
    assert.deepEqual(s.initialState().hardState, { term: 1, vote: null, commit: 1 })
    assert.equal(s.snapshot().meta.index, 1)
    assert.equal(s.firstIndex(), 2)
    assert.equal(s.lastIndex(), 1)
    assert.equal(s.term(1), 1)
    assert.throws(() => s.term(0), CompactedError)
    assert.throws(() => s.term(2), UnavailableError)
  })

  it('bootstrapIndex 0 keeps the conf in a snapshot at index 0 (fixed-membership tests)', () => {
    const s = new MemoryStorage({ conf: { voters: ['a', 'b'], learners: [] }, bootstrapIndex: 0 })
    assert.deepEqual(s.initialState().confState, { voters: ['a', 'b'], learners: [] })
    assert.equal(s.firstIndex(), 1)
    assert.equal(s.lastIndex(), 0)
    assert.equal(s.term(0), 0)
  })

  it('an empty storage (a node to be added later) starts at index 0 with no configuration', () => {
    const s = new MemoryStorage()
    assert.deepEqual(s.initialState().confState, { voters: [], learners: [] })
    assert.equal(s.firstIndex(), 1)
    assert.equal(s.lastIndex(), 0)
    assert.equal(s.term(0), 0)
  })

  it('bootstrapStorage refuses a non-empty storage or no voters', () => {
    const s = new MemoryStorage({ conf: { voters: ['a'], learners: [] }, bootstrapIndex: 1 })
    assert.throws(() => bootstrapStorage(s, { voters: ['a'], learners: [] }), RaftInputError)
    assert.throws(() => bootstrapStorage(new MemoryStorage(), { voters: [], learners: [] }), RaftInputError)
  })

  it('appends, truncates a conflicting suffix, and limits by bytes', () => {
    const s = new MemoryStorage()
    s.save({ entries: [ent(1, 1, 'aa'), ent(2, 1, 'bb'), ent(3, 1, 'cc')] })
    s.save({ entries: [ent(2, 2, 'xx')] })
    assert.equal(s.lastIndex(), 2)
    assert.equal(s.term(2), 2)
    assert.equal(s.entries(1, 3).length, 2)
    assert.equal(s.entries(1, 3, 1).length, 1) // at least one entry
    assert.equal(s.entries(1, 3, 4).length, 2)
    assert.throws(() => s.entries(1, 4), UnavailableError)
    assert.throws(() => s.save({ entries: [ent(5, 2)] }), RaftInputError)
  })

  it('snapshots, compacts and rejects out-of-date snapshots', () => {
    const s = new MemoryStorage()
    s.save({ entries: [ent(1, 1), ent(2, 1), ent(3, 2)], hardState: { term: 2, vote: 'a', commit: 3 } })
    const snap = s.createSnapshot(2, { voters: ['a'], learners: [] }, new Uint8Array([7]))
    assert.equal(snap.meta.term, 1)
    assert.throws(() => s.compact(3), RaftInputError)
    s.compact(2)
    assert.equal(s.firstIndex(), 3)
    assert.equal(s.term(2), 1)
    assert.throws(() => s.term(1), CompactedError)
    assert.throws(() => s.entries(2, 3), CompactedError)
    assert.throws(() => s.createSnapshot(2, { voters: [], learners: [] }, new Uint8Array()), SnapshotOutOfDateError)
  })

  it('applying a received snapshot replaces the log', () => {
    const s = new MemoryStorage()
    s.save({ entries: [ent(1, 1), ent(2, 1)] })
    s.save({ snapshot: { meta: { index: 10, term: 3, conf: { voters: ['x'], learners: [] } }, data: new Uint8Array() }, entries: [ent(11, 3)] })
    assert.equal(s.firstIndex(), 11)
    assert.equal(s.lastIndex(), 11)
    assert.equal(s.term(10), 3)
    assert.deepEqual(s.initialState().confState.voters, ['x'])
  })

  it('crashCopy keeps only what was saved and is independent', () => {
    const s = new MemoryStorage()
    s.save({ entries: [ent(1, 1)], hardState: { term: 1, vote: 'a', commit: 1 } })
    const c = s.crashCopy()
    s.save({ entries: [ent(2, 1)] })
    assert.equal(c.lastIndex(), 1)
    assert.deepEqual(c.initialState().hardState, { term: 1, vote: 'a', commit: 1 })
  })
})
