// Snapshot pieces of ended tasks taken from the stored snapshot instead of encoded again
// (src/node/cluster/snapshot-pieces.ts): the next snapshot restores to exactly the state, pieces
// whose records did not change are reused, a record changed after it ended (a late result, a
// hand-off's abort) is a new object and its piece is encoded again, and a record changed in place
// is caught by the test run's check.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClusterCore } from '../../src/node/cluster/core.js'
import { decodeSnapshot, ReusedPieceMismatchError } from '../../src/node/cluster/snapshot-codec.js'
import { readInMemorySnapshot } from '../../src/node/cluster/snapshot-pieces.js'
import { createLogger } from '../../src/node/log.js'
import { SqliteStorage } from '../../src/node/raft/sqlite-storage.js'
import { concatBytes, encodeCommands } from '../../src/protocol/codec.js'
import { ClusterState, freezeEndedRecordsByDefault } from '../../src/sched/state-machine.js'
import type { Command, TaskRecord } from '../../src/sched/commands.js'
import { assign, finished, result, submit, task, T0 } from './state-fixtures.js'

const silent = createLogger('pieces-test', 'silent')

/** a core whose stored snapshot is what it last encoded (as the driver stores it) */
function harness (sliceItems: number): {
  core: ClusterCore
  feed: (cmds: Command[]) => void
  snapshot: () => Promise<Uint8Array>
} {
  const queued: Array<() => void> = []
  const core = new ClusterCore(silent, undefined, { snapshotSliceItems: sliceItems, nextSlice: fn => { queued.push(fn) } })
  let stored = { meta: { index: 0 }, data: new Uint8Array(0) }
  core.bindStoredSnapshot(readInMemorySnapshot({ snapshot: () => stored }))
  let index = 1
  return {
    core,
    feed: cmds => { for (const c of cmds) core.applyEntry({ term: 1, index: ++index, type: 'normal', data: encodeCommands([c]) }) },
    snapshot: async () => {
      const p = core.snapshotInSlices()
      while (queued.length > 0) queued.splice(0).forEach(fn => { fn() })
      const data = concatBytes(await p)
      stored = { meta: { index }, data }
      core.snapshotStored(index)
      return data
    }
  }
}

/** tasks p0..p(n-1), submitted in tens and completed */
function completed (n: number, prefix: string): Command[] {
  const out: Command[] = []
  for (let i = 0; i < n; i += 10) out.push(submit(Array.from({ length: Math.min(10, n - i) }, (_, k) => task(`${prefix}${i + k}`))))
  for (let i = 0; i < n; i++) out.push(assign(`${prefix}${i}`, 1, 'd1'), finished(result(`${prefix}${i}`, 1, 'd1', 'completed', { result: { i } })))
  return out
}

function sameState (data: Uint8Array, core: ClusterCore): void {
  assert.deepEqual(ClusterState.restore(decodeSnapshot(data)).snapshot(), core.state.snapshot())
}

describe('snapshot pieces of ended tasks', () => {
  it('the next snapshot takes the unchanged pieces from the stored one and restores to the same state', async () => {
    const { core, feed, snapshot } = harness(8)
    feed(completed(200, 'a'))
    sameState(await snapshot(), core)
    assert.equal(core.reusedSnapshotPieces.pieces, 0, 'nothing stored to take from yet')
    feed(completed(50, 'b'))
    const second = await snapshot()
    sameState(second, core)
    const { pieces, records } = core.reusedSnapshotPieces
    assert.ok(pieces >= 10, `${pieces} pieces reused`)
    assert.ok(records >= 150, `${records} of the 200 first records reused`)
    // and once more, from the second snapshot's layout
    feed(completed(20, 'c'))
    sameState(await snapshot(), core)
    assert.ok(core.reusedSnapshotPieces.records >= records + 200, 'the third snapshot reuses the second one\'s pieces too')
  })

  it('a record changed after it ended (a late result) is a new object: its piece is encoded again, the rest reused', async () => {
    const { core, feed, snapshot } = harness(8)
    feed(completed(120, 'a'))
    await snapshot()
    const before = core.state.getTask('a57') as TaskRecord
    // attempt 2 of a task that ended after attempt 1: recorded as stale on the ended record
    feed([finished(result('a57', 2, 'd9', 'completed'), T0 + 50)])
    const after = core.state.getTask('a57') as TaskRecord
    assert.notEqual(after, before, 'replaced, not changed in place')
    assert.equal(after.staleResults, 1)
    assert.equal(before.staleResults, undefined)
    const data = await snapshot()
    sameState(data, core)
    assert.equal((decodeSnapshot(data) as { tasks: TaskRecord[] }).tasks.find(t => t.id === 'a57')?.staleResults, 1)
    assert.ok(core.reusedSnapshotPieces.records >= 80, `${core.reusedSnapshotPieces.records} records reused`)
  })

  it('evictions and a restore leave nothing stale behind', async () => {
    const { core, feed, snapshot } = harness(8)
    feed(completed(100, 'a'))
    await snapshot()
    feed([{ type: 'evict', at: T0 + 10 ** 12, taskIds: ['a0', 'a1', 'a2', 'a33', 'a34', 'a99'], batchIds: [], workflowIds: [] } as unknown as Command])
    assert.equal(core.state.getTask('a33'), undefined)
    sameState(await snapshot(), core)
    // a snapshot from elsewhere: new records, nothing of the stored bytes is theirs
    core.restore(core.snapshotData())
    const reused = core.reusedSnapshotPieces.records
    feed(completed(10, 'b'))
    sameState(await snapshot(), core)
    assert.equal(core.reusedSnapshotPieces.records, reused, 'no piece taken after a restore')
  })

  it('takes the pieces from the snapshot file SqliteStorage wrote (the offsets are the file\'s)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-pieces-'))
    const storage = new SqliteStorage(join(dir, 'raft.db'), { conf: { voters: ['n1'], learners: [] } })
    try {
      const queued: Array<() => void> = []
      const core = new ClusterCore(silent, undefined, { snapshotSliceItems: 8, nextSlice: fn => { queued.push(fn) } })
      core.bindStoredSnapshot((i, o, l) => storage.readSnapshotRange(i, o, l))
      let index = storage.lastIndex()
      const feed = (cmds: Command[]): void => {
        for (const c of cmds) {
          const e = { term: 1, index: ++index, type: 'normal' as const, data: encodeCommands([c]) }
          storage.save({ entries: [e] })
          core.applyEntry(e)
        }
      }
      /** as the driver stores a snapshot in slices: its parts to a file of their own, then the row */
      const snapshot = async (): Promise<Uint8Array> => {
        const p = core.snapshotInSlices()
        while (queued.length > 0) queued.splice(0).forEach(fn => { fn() })
        const parts = await p
        const file = await storage.writeSnapshotFile(index, parts)
        storage.createSnapshotFromFile(index, { voters: ['n1'], learners: [] }, file)
        core.snapshotStored(index)
        while (queued.length > 0) queued.splice(0).forEach(fn => { fn() })
        return concatBytes(parts)
      }
      feed(completed(150, 'a'))
      await snapshot()
      feed(completed(30, 'b'))
      const data = await snapshot()
      sameState(data, core)
      assert.deepEqual(storage.snapshot().data, data, 'the file holds the bytes the core handed over')
      assert.ok(core.reusedSnapshotPieces.records >= 100, `${core.reusedSnapshotPieces.records} records taken from the file`)
    } finally {
      storage.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a record changed in place after it ended is caught by the check of a test run', async () => {
    freezeEndedRecordsByDefault(false) // the sabotage below needs an ended record it can change
    try {
      const { core, feed, snapshot } = harness(8)
      feed(completed(60, 'a'))
      await snapshot()
      const rec = core.state.getTask('a20') as TaskRecord
      rec.progress = 42 // what changeable() exists to prevent
      await assert.rejects(snapshot(), ReusedPieceMismatchError)
    } finally {
      freezeEndedRecordsByDefault(true)
    }
  })
})
