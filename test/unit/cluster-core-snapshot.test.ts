// The cluster state's snapshot in slices (src/node/cluster/snapshot-codec.ts, ClusterCore
// .snapshotInSlices): encoded a piece a turn, it restores to exactly the state as of the entries
// handed in when it started; entries committed meanwhile wait and are applied, in order, once it is
// done; a snapshot in one go or a restore in the middle gives it up without losing an entry.
import assert from 'node:assert/strict'
import { ClusterCore, SnapshotAbandonedError } from '../../src/node/cluster/core.js'
import { decodeSnapshot, sliceEncoder } from '../../src/node/cluster/snapshot-codec.js'
import { createLogger } from '../../src/node/log.js'
import { concatBytes, encodeCommands, encodeValue } from '../../src/protocol/codec.js'
import { DecodeError } from '../../src/protocol/errors.js'
import { ClusterState } from '../../src/sched/state-machine.js'
import type { Command } from '../../src/sched/commands.js'
import { assign, finished, result, submit, task } from './state-fixtures.js'

const silent = createLogger('snapshot-test', 'silent')

/** n tasks: submitted in batches of 10, every other one assigned and finished */
function commands (n: number, prefix = 't'): Command[] {
  const out: Command[] = []
  for (let i = 0; i < n; i += 10) out.push(submit(Array.from({ length: Math.min(10, n - i) }, (_, k) => task(`${prefix}${i + k}`))))
  for (let i = 0; i < n; i += 2) {
    out.push(assign(`${prefix}${i}`, 1, 'd1'))
    out.push(finished(result(`${prefix}${i}`, 1, 'd1', 'completed', { result: { i } })))
  }
  return out
}

/** a core fed entries of one command each, from index 2; slices run when `turn()` is called */
function harness (sliceItems: number, heldApplyBytesPerTurn?: number): { core: ClusterCore, feed: (cmds: Command[]) => void, turn: () => number } {
  const queued: Array<() => void> = []
  const core = new ClusterCore(silent, undefined, { snapshotSliceItems: sliceItems, nextSlice: fn => { queued.push(fn) }, heldApplyBytesPerTurn })
  let index = 1
  return {
    core,
    feed: cmds => { for (const c of cmds) core.applyEntry({ term: 1, index: ++index, type: 'normal', data: encodeCommands([c]) }) },
    turn: () => { const fns = queued.splice(0); for (const fn of fns) fn(); return fns.length }
  }
}

function image (st: ClusterState): unknown { return st.snapshot() }

describe('cluster core: snapshots in slices', () => {
  it('pieces restore to the same state as a snapshot in one go, and the one-go bytes are unchanged', () => {
    const st = new ClusterState()
    commands(95).forEach((c, i) => st.apply(c, i + 2))
    const snap = st.snapshot()
    const enc = sliceEncoder(snap, 7)
    let steps = 0
    while (!enc.step()) steps++
    assert.ok(steps >= 95 / 7 - 1, `only ${steps} steps for 95 tasks in slices of 7`)
    const parts = enc.finish()
    assert.ok(parts.length > 10, `${parts.length} parts`)
    const pieced = concatBytes(parts)
    const wholeParts = sliceEncoder(snap, Infinity).finish()
    assert.equal(wholeParts.length, 1)
    const whole = wholeParts[0]!
    assert.deepEqual(whole, encodeValue(snap)) // what nodes wrote before: a snapshot in one go is read as ever
    assert.deepEqual(decodeSnapshot(pieced), decodeSnapshot(whole))
    assert.deepEqual(image(ClusterState.restore(decodeSnapshot(pieced))), image(st))
  })

  it('refuses malformed pieces with a DecodeError', () => {
    const join = (...vs: unknown[]): Uint8Array => concatBytes(vs.map(v => encodeValue(v).slice()))
    assert.throws(() => decodeSnapshot(join({ version: 2 })), DecodeError)
    assert.throws(() => decodeSnapshot(join({ version: 2, pieces: { tasks: 'x' } })), DecodeError)
    assert.throws(() => decodeSnapshot(join({ version: 2, pieces: { tasks: 2 } }, [1])), DecodeError, 'a piece missing')
    assert.throws(() => decodeSnapshot(join({ version: 2, pieces: { tasks: 1 } }, { a: 1 })), DecodeError, 'a piece not a list')
    assert.throws(() => decodeSnapshot(join({ version: 2, pieces: { tasks: 1 } }, [1], [2])), DecodeError, 'a value too many')
    assert.throws(() => decodeSnapshot(join({ version: 1, tasks: [] }, [2])), DecodeError, 'a plain snapshot with more after it')
    assert.throws(() => decodeSnapshot(join({ version: 2, pieces: { tasks: 1 } }, [1]).subarray(0, 20)), DecodeError, 'truncated')
  })

  it('holds entries committed while it encodes and applies them, in order, once it is done', async () => {
    const { core, feed, turn } = harness(5)
    const first = commands(40, 'a')
    const later = [...commands(10, 'b'), assign('a1', 1, 'd2'), finished(result('a1', 1, 'd2', 'failed', { error: { type: 'x', message: 'boom' } }))]
    feed(first)
    const before = decodeSnapshot(core.snapshotData())
    const appliedBefore = core.appliedCommands
    const p = core.snapshotInSlices()
    let turns = 0
    // between slices: more submissions, and results for tasks of the snapshot
    while (turn() > 0) {
      if (turns++ === 2) feed(later)
      if (turns < 4) assert.equal(core.appliedCommands, appliedBefore, 'nothing is applied while the slices run')
    }
    const data = concatBytes(await p)
    assert.ok(turns >= 8, `${turns} turns`)
    assert.deepEqual(decodeSnapshot(data), before, 'the snapshot is the state when it started')
    // the held entries were applied after it: the same state as a core that never held them
    const ref = harness(5)
    ref.feed(first)
    ref.feed(later)
    assert.deepEqual(image(core.state), image(ref.core.state))
    assert.equal(core.state.getTask('b9')?.status, 'pending')
  })

  it('applies the held entries a few a turn once it is encoded; entries arriving meanwhile queue behind them', async () => {
    const { core, feed, turn } = harness(5, 1) // one held entry a turn
    const first = commands(20, 'a')
    const during = commands(10, 'b') // 1 submit entry + 10 entries for 5 tasks
    const after = commands(10, 'c')
    feed(first)
    const p = core.snapshotInSlices()
    turn()
    feed(during)
    while (core.appliedCommands === first.length) turn() // the slices, then the first held entry
    await p
    const counts: number[] = [core.appliedCommands]
    feed(after) // while the held entries are still being applied
    assert.equal(core.state.getTask('c0'), undefined, 'behind the held ones')
    while (turn() > 0) counts.push(core.appliedCommands)
    assert.ok(counts.length >= during.length, `applied over ${counts.length} turns: ${counts.join(' ')}`)
    assert.equal(core.appliedCommands, first.length + during.length + after.length)
    const ref = harness(5)
    ref.feed(first); ref.feed(during); ref.feed(after)
    assert.deepEqual(image(core.state), image(ref.core.state))
    // applying at once again: the next one is taken
    feed(commands(1, 'd'))
    assert.equal(core.state.getTask('d0')?.status, 'completed')
    const again = core.snapshotInSlices()
    while (turn() > 0) { /* */ }
    assert.ok((await again).length > 1)
  })

  it('a snapshot in one go in the middle applies what was held first and gives the slices up', async () => {
    const { core, feed, turn } = harness(3)
    feed(commands(30, 'a'))
    const p = core.snapshotInSlices()
    turn()
    feed(commands(10, 'b'))
    const whole = core.snapshotData() // e.g. the stop snapshot
    assert.equal(ClusterState.restore(decodeSnapshot(whole)).getTask('b9')?.status, 'pending', 'the one-go snapshot has the held entries')
    while (turn() > 0) { /* the rest of the slices notice */ }
    await assert.rejects(p, SnapshotAbandonedError)
    feed(commands(10, 'c'))
    assert.equal(core.state.getTask('c9')?.status, 'pending', 'entries apply at once again')
  })

  it('a snapshot from the leader in the middle drops the held entries (they precede it) and gives the slices up', async () => {
    const { core, feed, turn } = harness(3)
    feed(commands(30, 'a'))
    const leaderState = new ClusterState()
    commands(20, 'z').forEach((c, i) => leaderState.apply(c, i + 2))
    const p = core.snapshotInSlices()
    turn()
    feed(commands(10, 'b'))
    core.restore(encodeValue(leaderState.snapshot()))
    while (turn() > 0) { /* */ }
    await assert.rejects(p, SnapshotAbandonedError)
    assert.deepEqual(image(core.state), image(leaderState))
    assert.equal(core.state.getTask('b1'), undefined)
    feed(commands(10, 'c'))
    assert.equal(core.state.getTask('c9')?.status, 'pending')
  })
})
