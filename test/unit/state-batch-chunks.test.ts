import assert from 'node:assert/strict'
import { ClusterState, STAGED_BATCH_TTL_MS } from '../../src/sched/state-machine.js'
import type { Command } from '../../src/sched/commands.js'
import { T0, assign, finished, result, run, submit, task } from './state-fixtures.js'

const batch = { id: 'B', name: 'big' }
const tasks = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => task(`${prefix}${i}`))
function chunk (ts: ReturnType<typeof tasks>, index: number, count: number, extra: Partial<Extract<Command, { type: 'submit' }>> = {}): Command {
  return submit(ts, { batch, chunk: { index, count }, ...extra })
}

describe('ClusterState: batches submitted in chunks', () => {
  it('stages chunks invisibly and unschedulably, then the last chunk seals the whole batch at once', () => {
    const st = new ClusterState()
    const a = st.apply(chunk(tasks('a', 3), 0, 3), 1)
    assert.deepEqual(a.reply, { ok: true, taskIds: ['a0', 'a1', 'a2'], duplicate: false })
    assert.deepEqual(a.events, [])
    st.apply(chunk(tasks('b', 2), 1, 3), 2)
    assert.equal(st.size, 0, 'staged tasks are not tasks yet')
    assert.equal(st.getTask('a0'), undefined)
    assert.equal(st.batchProgress('B'), undefined)
    assert.deepEqual(st.pendingInOrder(T0 + 1), [])
    assert.deepEqual([...st.stagedBatches()], [['B', 5]])
    const seal = st.apply(chunk(tasks('c', 1), 2, 3), 3)
    assert.deepEqual(seal.reply, { ok: true, taskIds: ['a0', 'a1', 'a2', 'b0', 'b1', 'c0'], duplicate: false })
    assert.equal(seal.events.filter(e => e.kind === 'submit').length, 6)
    assert.equal(st.batchProgress('B')!.total, 6)
    assert.equal(st.batchProgress('B')!.pending, 6)
    assert.equal(st.pendingInOrder(T0 + 1).length, 6)
    assert.equal(st.getTask('b1')!.batchId, 'B')
    assert.equal(st.stagedBatches().size, 0)
  })

  it('a retried chunk or seal (same requestId) is a duplicate, applied once', () => {
    const st = new ClusterState()
    const c0 = chunk(tasks('a', 2), 0, 2)
    st.apply(c0, 1)
    assert.equal(st.apply(c0, 2).reply!.ok && (st.apply(c0, 3).reply as { duplicate: boolean }).duplicate, true)
    assert.deepEqual([...st.stagedBatches()], [['B', 2]])
    const seal = chunk(tasks('b', 1), 1, 2)
    st.apply(seal, 4)
    const again = st.apply(seal, 5)
    assert.deepEqual(again.reply, { ok: true, taskIds: ['a0', 'a1', 'b0'], duplicate: true })
    assert.equal(st.size, 3)
  })

  it('a seal that fails its checks leaves nothing: no task, no batch, no staging', () => {
    const st = new ClusterState({ maxQueueSize: 4 })
    st.apply(chunk(tasks('a', 3), 0, 2), 1)
    const seal = st.apply(chunk(tasks('b', 2), 1, 2), 2)
    assert.equal(seal.reply!.ok, false)
    assert.equal(seal.reply!.ok === false && seal.reply!.error.type, 'queue_full')
    assert.equal(st.size, 0)
    assert.equal(st.batchProgress('B'), undefined)
    assert.equal(st.stagedBatches().size, 0)
    // a bad task in any chunk fails the seal the same way
    const st2 = new ClusterState()
    st2.apply(chunk([task('x'), task('x')], 0, 2), 1)
    const bad = st2.apply(chunk(tasks('y', 1), 1, 2), 2)
    assert.equal(bad.reply!.ok === false && bad.reply!.error.field, 'tasks[1].id')
    assert.equal(st2.size, 0)
  })

  it('refuses out-of-order chunks, a chunk without its predecessors, another principal, workflows', () => {
    const st = new ClusterState()
    const orphan = st.apply(chunk(tasks('a', 1), 1, 3), 1)
    assert.equal(orphan.reply!.ok === false && orphan.reply!.error.type, 'conflict')
    st.apply(chunk(tasks('a', 1), 0, 3), 2)
    const skip = st.apply(chunk(tasks('c', 1), 2, 3), 3)
    assert.match(skip.reply!.ok === false ? skip.reply!.error.message : '', /out of order \(expected 1 of 3\)/)
    const mallory = st.apply(chunk(tasks('b', 1), 1, 3, { principal: 'mallory' }), 4)
    assert.equal(mallory.reply!.ok === false && mallory.reply!.error.type, 'permission_denied')
    const badIdx = st.apply(chunk(tasks('b', 1), 3, 3), 5)
    assert.equal(badIdx.reply!.ok === false && badIdx.reply!.error.field, 'chunk.index')
    const wf = st.apply(submit([], { chunk: { index: 0, count: 2 }, workflow: { id: 'W', name: 'w', steps: [{ name: 's', task: task('w1'), dependsOn: [] }] } }), 6)
    assert.equal(wf.reply!.ok === false && wf.reply!.error.field, 'chunk')
    assert.deepEqual([...st.stagedBatches()], [['B', 1]], 'refusals changed nothing')
  })

  it('drops abandoned staging after the TTL (by command time) and restarts on a new chunk 0', () => {
    const st = new ClusterState()
    st.apply(chunk(tasks('a', 2), 0, 2), 1)
    st.apply(chunk(tasks('z', 2), 0, 2), 2) // the submitter started over
    assert.deepEqual([...st.stagedBatches()], [['B', 2]])
    const late = st.apply(submit(tasks('q', 1), { batch: { id: 'C', name: 'c' }, chunk: { index: 0, count: 2 }, at: T0 + STAGED_BATCH_TTL_MS + 1 }), 3)
    assert.equal(late.reply!.ok, true)
    assert.deepEqual([...st.stagedBatches()], [['C', 1]], 'B expired')
  })

  it('staging survives a snapshot and restore; a restored replica seals identically', () => {
    const st = new ClusterState()
    st.apply(chunk(tasks('a', 2), 0, 2), 1)
    const copy = ClusterState.restore(structuredClone(st.snapshot()))
    const seal = chunk(tasks('b', 1), 1, 2)
    const x = st.apply(seal, 2); const y = copy.apply(seal, 2)
    assert.deepEqual(x.reply, y.reply)
    assert.deepEqual(copy.batchProgress('B'), st.batchProgress('B'))
    assert.equal(copy.batchProgress('B')!.total, 3)
  })
})

describe('ClusterState: start events', () => {
  it('a result for an attempt that never reported started still emits start first (once)', () => {
    const st = new ClusterState()
    const outs = run(st, [submit([task('a')]), assign('a', 1, 'd1'), finished(result('a', 1, 'd1', 'completed', { result: 1, startedAt: T0 + 3 }))])
    assert.deepEqual(outs[2].events.map(e => e.kind), ['start', 'complete'])
    assert.equal(outs[2].events[0].at, T0 + 3)
  })

  it('an attempt that reported started gets no second start', () => {
    const st = new ClusterState()
    const outs = run(st, [submit([task('a')]), assign('a', 1, 'd1'),
      { type: 'started', at: T0 + 1, taskId: 'a', attempt: 1, deviceId: 'd1' },
      finished(result('a', 1, 'd1', 'completed', { result: 1 }))])
    assert.deepEqual(outs[2].events.map(e => e.kind), ['start'])
    assert.deepEqual(outs[3].events.map(e => e.kind), ['complete'])
  })
})
