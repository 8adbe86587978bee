// The retained-records cap (issue 14; settings.maxRetainedTasks, like BullMQ's removeOnComplete
// {count}): over it the leader's 'evict' also names the oldest ended units, and apply evicts them
// before their retention ends - the same records on every replica, never a task still in flight.
import assert from 'node:assert/strict'
import { ClusterState } from '../../src/sched/state-machine.js'
import type { Command } from '../../src/sched/commands.js'
import { encodeValue, decodeValue } from '../../src/protocol/codec.js'
import { DEFAULT_MAX_RETAINED_TASKS } from '../../src/sched/retention.js'
import { T0, assign, finished, result, run, submit, task } from './state-fixtures.js'

const settings = (s: Extract<Command, { type: 'settings' }>['settings']): Command => ({ type: 'settings', at: T0, by: 'local-admin', settings: s })
const evict = (st: ClusterState, at: number, max = 1000): Command => ({ type: 'evict', at, ...st.evictionCandidates(at, max) })
const image = (st: ClusterState): unknown => decodeValue(encodeValue(st.snapshot()))

/**
 * t0..t9 standalone; they end in the order t5, t2, t8, t0, t7, t1, t9 (not the id order), one per
 * second, t2 and t9 with their own (long) TTL; t3 runs, t4 and t6 wait; batch B (b1 done, b2 queued).
 */
function history (): Command[] {
  const ids = ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7', 't8', 't9']
  const cmds: Command[] = [
    submit(ids.map(id => task(id, id === 't2' || id === 't9' ? { req: { resultTtlSeconds: 86_400 } } : {}))),
    submit([task('b1'), task('b2')], { batch: { id: 'B', name: 'batch' } })
  ]
  for (const id of [...ids.filter(i => i !== 't4' && i !== 't6'), 'b1', 'b2']) cmds.push(assign(id, 1, 'dev1'))
  cmds.push({ type: 'started', at: T0 + 500, taskId: 't3', attempt: 1, deviceId: 'dev1' })
  const order = ['t5', 't2', 't8', 't0', 't7', 't1', 't9', 'b1']
  order.forEach((id, k) => cmds.push(finished(result(id, 1, 'dev1', k % 3 === 1 ? 'failed' : 'completed', k % 3 === 1 ? { error: { type: 'x', message: 'x' } } : {}), T0 + 1000 * (k + 1))))
  return cmds
}

describe('ClusterState: the retained-records cap (maxRetainedTasks)', () => {
  it('defaults to 100,000 and changes nothing below it', () => {
    const st = new ClusterState()
    run(st, history())
    assert.equal(st.maxRetainedTasks, DEFAULT_MAX_RETAINED_TASKS)
    assert.deepEqual(st.evictionCandidates(T0 + 60_000, 100), { taskIds: [], batchIds: [], workflowIds: [] })
  })

  it('evicts the oldest terminal records first, identically on a replica restored midway', () => {
    const cmds = history()
    const a = new ClusterState()
    run(a, cmds.slice(0, 5))
    const b = ClusterState.restore(decodeValue(encodeValue(a.snapshot())))
    run(a, cmds.slice(5)); run(b, cmds.slice(5))
    // 8 terminal (7 standalone + b1); keep 4: the 4 that ended first go, hours before their retention
    run(a, [settings({ maxRetainedTasks: 4 })]); run(b, [settings({ maxRetainedTasks: 4 })])
    const at = T0 + 60_000
    const c = a.evictionCandidates(at, 100)
    assert.deepEqual(c, b.evictionCandidates(at, 100))
    assert.deepEqual(c.taskIds, ['t5', 't2', 't8', 't0'], 'by when they ended, not by id; an own TTL does not matter')
    assert.deepEqual(c.batchIds, [], 'B still has a task in flight')
    const cmd: Command = { type: 'evict', at, ...c }
    run(a, [cmd]); run(b, [cmd])
    for (const id of ['t5', 't2', 't8', 't0']) { assert.equal(a.getTask(id), undefined); assert.equal(a.wasEvicted(id), true) }
    for (const id of ['t7', 't1', 't9', 'b1', 't3', 't4', 't6', 'b2']) assert.ok(a.getTask(id) !== undefined, id)
    assert.deepEqual(image(b), image(a))
    assert.deepEqual(a.evictionCandidates(at, 100), { taskIds: [], batchIds: [], workflowIds: [] }, 'at the cap now')
  })

  it('never evicts a pending, queued or running task, even at a cap of 0 or when named', () => {
    const st = new ClusterState()
    run(st, [...history(), settings({ maxRetainedTasks: 0 })])
    const at = T0 + 60_000
    // an evict naming everything, in-flight tasks and the half-done batch included
    run(st, [{ type: 'evict', at, taskIds: ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7', 't8', 't9'], batchIds: ['B'], workflowIds: [] }])
    assert.deepEqual(['t3', 't4', 't6', 'b1', 'b2'].filter(id => st.getTask(id) === undefined), [])
    assert.equal(st.getTask('t3')!.status, 'running')
    assert.equal(st.getTask('b2')!.status, 'queued')
    assert.equal(st.size, 5)
    // once b2 ends the batch goes whole
    run(st, [finished(result('b2', 1, 'dev1', 'completed'), T0 + 20_000)])
    run(st, [evict(st, at)])
    assert.equal(st.getTask('b1'), undefined)
    assert.equal(st.batchProgress('B'), undefined)
    assert.deepEqual(['t3', 't4', 't6'].filter(id => st.getTask(id) !== undefined), ['t3', 't4', 't6'])
  })

  it('apply checks the cap itself: an evict naming unexpired records under the cap changes nothing', () => {
    const st = new ClusterState()
    run(st, [...history(), settings({ maxRetainedTasks: 7 })])
    // 8 terminal, cap 7: one unit may go, not three
    run(st, [{ type: 'evict', at: T0 + 60_000, taskIds: ['t9', 't1', 't7'], batchIds: [], workflowIds: [] }])
    assert.equal(st.getTask('t9'), undefined)
    assert.ok(st.getTask('t1') !== undefined && st.getTask('t7') !== undefined)
  })

  it('is a replicated setting: admin only, 0..10,000,000, null restores the default', () => {
    const st = new ClusterState()
    const refused = st.apply({ ...settings({ maxRetainedTasks: 5 }), by: 'mallory' } as Command, 1)
    assert.equal(refused.reply?.ok, false)
    const bad = st.apply(settings({ maxRetainedTasks: -1 }), 2)
    assert.equal(bad.reply?.ok, false)
    assert.equal((bad.reply as { error: { field?: string } }).error.field, 'settings.maxRetainedTasks')
    run(st, [settings({ maxRetainedTasks: 5 })])
    assert.equal(st.clusterSettings().maxRetainedTasks, 5)
    run(st, [settings({ maxRetainedTasks: null })])
    assert.equal(st.clusterSettings().maxRetainedTasks, undefined)
    assert.equal(st.maxRetainedTasks, DEFAULT_MAX_RETAINED_TASKS)
  })

  it('a big excess is named oldest first in bounded rounds', () => {
    const st = new ClusterState()
    const n = 3000
    const ts = Array.from({ length: n }, (_, i) => task(`x${String(i).padStart(5, '0')}`))
    run(st, [submit(ts)])
    // end in reverse id order, 1 ms apart
    for (let i = n - 1; i >= 0; i--) run(st, [assign(ts[i].id, 1, 'd'), finished(result(ts[i].id, 1, 'd', 'completed'), T0 + (n - i))])
    run(st, [settings({ maxRetainedTasks: 1000 })])
    const first = st.evictionCandidates(T0 + 10_000, 500)
    assert.equal(first.taskIds.length, 500)
    assert.deepEqual(first.taskIds.slice(0, 3), ['x02999', 'x02998', 'x02997'])
    for (let round = 0; round < 10 && st.size > 1000; round++) run(st, [evict(st, T0 + 10_000, 500)])
    assert.equal(st.size, 1000)
    assert.ok(st.getTask('x00000') !== undefined && st.getTask('x00999') !== undefined && st.getTask('x01000') === undefined)
  })
})
