// The cluster state's snapshot in slices (src/node/cluster/snapshot-codec.ts, ClusterCore
// .snapshotInSlices): encoded a piece a turn, it restores to exactly the state as of the entries
// handed in when it started; entries committed meanwhile wait and are applied, in order, once it is
// done; a snapshot in one go or a restore in the middle gives it up without losing an entry.
import assert from 'node:assert/strict'
import { ClusterCore, SnapshotAbandonedError } from '../../src/node/cluster/core.js'
import { decodeSnapshot, sliceDecoder, sliceEncoder } from '../../src/node/cluster/snapshot-codec.js'
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

  it('a snapshot asked while the last one\'s held entries are still being applied applies them all first, then starts', async () => {
    const { core, feed, turn } = harness(5, 1) // one held entry a turn
    feed(commands(20, 'a'))
    const first = core.snapshotInSlices()
    turn()
    feed(commands(10, 'b'))
    while (core.state.getTask('b0') === undefined) turn() // encoded; the first held entry applied
    await first
    assert.equal(core.holding, true, 'still applying what it held')
    const second = core.snapshotInSlices() // e.g. the stop snapshot right after a snapshot
    while (turn() > 0) { /* its slices */ }
    const snap = ClusterState.restore(decodeSnapshot(concatBytes(await second)))
    assert.equal(snap.getTask('b9')?.status, 'pending', 'every held entry is in it')
    assert.equal(core.holding, false)
    // while one is being encoded, a second is still refused
    const third = core.snapshotInSlices()
    await assert.rejects(core.snapshotInSlices(), SnapshotAbandonedError)
    while (turn() > 0) { /* */ }
    assert.ok((await third).length > 1)
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

describe('cluster core: a snapshot from the leader restored in slices', () => {
  /** a leader's state of n tasks and its snapshot in pieces of `slice` items */
  function leaderSnapshot (n: number, slice: number, prefix = 'z'): { state: ClusterState, data: Uint8Array, appliedTo: number } {
    const state = new ClusterState()
    const cmds = commands(n, prefix)
    cmds.forEach((c, i) => state.apply(c, i + 2))
    const enc = sliceEncoder(state.snapshot(), slice)
    while (!enc.step()) { /* every piece */ }
    return { state, data: concatBytes(enc.finish()), appliedTo: cmds.length + 1 }
  }

  it('decodes a value a step and gives what decodeSnapshot gives', () => {
    const { data } = leaderSnapshot(60, 7)
    const dec = sliceDecoder(data)
    let steps = 1
    while (!dec.step()) steps++
    assert.ok(steps > 60 / 7, `${steps} steps`)
    assert.deepEqual(dec.finish(), decodeSnapshot(data))
    const plain = sliceDecoder(encodeValue(new ClusterState().snapshot()).slice())
    assert.equal(plain.step(), true, 'a snapshot in one value is one step')
  })

  it('builds the state over turns, holds the entries that follow it, and applies them after, in order', () => {
    const { core, feed, turn } = harness(4)
    feed(commands(12, 'a')) // the follower's own, older state
    const { state: leaderState, data, appliedTo } = leaderSnapshot(40, 4)
    const old = image(core.state)
    core.restoreInSlices(data, appliedTo)
    assert.equal(core.holding, true)
    // entries after the snapshot's index arrive while it is restored: results for its tasks, new tasks
    const after = [assign('z1', 1, 'd2'), finished(result('z1', 1, 'd2', 'completed', { result: 'late' })), ...commands(10, 'n')]
    let turns = 0
    while (turn() > 0) {
      if (turns++ === 3) {
        assert.deepEqual(image(core.state), old, 'reads see the state as it was until the new one is in place')
        for (const c of after) core.applyEntry({ term: 2, index: appliedTo + 1 + after.indexOf(c), type: 'normal', data: encodeCommands([c]) })
      }
    }
    assert.ok(turns > 10, `restored over ${turns} turns`)
    assert.equal(core.holding, false)
    const ref = ClusterState.restore(decodeSnapshot(data)) // (the fixtures number requests anew: no replay)
    after.forEach((c, i) => ref.apply(c, appliedTo + 1 + i))
    assert.deepEqual(image(core.state), image(ref))
    assert.equal(core.state.getTask('a0'), undefined, 'nothing of the old state is left')
    assert.equal(core.state.getTask('z1')?.status, 'completed')
    assert.deepEqual(image(ClusterState.restore(decodeSnapshot(data))), image(leaderState))
  })

  it('tells the restore listeners once the new state is in place, not before', () => {
    const { core, turn } = harness(4)
    const { data, appliedTo } = leaderSnapshot(30, 4)
    const seen: Array<string | undefined> = []
    core.onRestore(() => { seen.push(core.state.getTask('z0')?.status) })
    core.restoreInSlices(data, appliedTo)
    turn()
    assert.deepEqual(seen, [])
    while (turn() > 0) { /* */ }
    assert.deepEqual(seen, ['completed'])
  })

  it('a snapshot in one go (the stop snapshot) in the middle finishes the restore first, then applies what was held', () => {
    const { core, turn } = harness(4)
    const { data, appliedTo } = leaderSnapshot(40, 4)
    core.restoreInSlices(data, appliedTo)
    turn(); turn()
    core.applyEntry({ term: 2, index: appliedTo + 1, type: 'normal', data: encodeCommands(commands(10, 'n').slice(0, 1)) })
    const whole = ClusterState.restore(decodeSnapshot(core.snapshotData()))
    assert.equal(whole.getTask('z39')?.status, 'pending', 'the snapshot\'s tasks')
    assert.equal(whole.getTask('n9')?.status, 'pending', 'and the held entry')
    assert.equal(core.holding, false)
    while (turn() > 0) { /* the rest of the steps notice */ }
    assert.equal(core.state.getTask('n9')?.status, 'pending')
    assert.equal(core.state.getTask('z39')?.status, 'pending')
  })

  it('a newer snapshot in the middle replaces it; one in one go too', () => {
    const { core, turn } = harness(4)
    const first = leaderSnapshot(40, 4, 'p')
    const second = leaderSnapshot(20, 4, 'q')
    core.restoreInSlices(first.data, first.appliedTo)
    turn(); turn()
    core.restoreInSlices(second.data, second.appliedTo + 100)
    while (turn() > 0) { /* */ }
    assert.deepEqual(image(core.state), image(second.state))
    core.restoreInSlices(first.data, first.appliedTo + 200)
    turn()
    core.restore(concatBytes(sliceEncoder(second.state.snapshot(), Infinity).finish()))
    while (turn() > 0) { /* */ }
    assert.deepEqual(image(core.state), image(second.state))
    assert.equal(core.holding, false)
  })

  it('a snapshot that cannot be decoded halts the core at its index, with nothing applied after', () => {
    const { core, turn } = harness(4)
    const { data, appliedTo } = leaderSnapshot(40, 4)
    const bad = data.slice(0, data.byteLength - 9) // the last piece cut short
    const halts: number[] = []
    core.onHalt(h => { halts.push(h.index) })
    core.restoreInSlices(bad, appliedTo)
    core.applyEntry({ term: 2, index: appliedTo + 1, type: 'normal', data: encodeCommands(commands(10, 'n').slice(0, 1)) })
    while (turn() > 0) { /* */ }
    assert.deepEqual(halts, [appliedTo])
    assert.match(core.halted?.reason ?? '', /snapshot could not be restored/)
    assert.equal(core.state.getTask('n0'), undefined)
  })
})
