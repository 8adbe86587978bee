// client/live-fields.ts: a task record is the replicated record plus the leader's live fields,
// merged only where they belong to the record as this node has it; a follower asks the leader in
// slices of MAX_LIVE_TASKS_PER_QUERY and falls back to its own records when the leader does not answer.
import assert from 'node:assert/strict'
import { ClusterState } from '../../src/sched/state-machine.js'
import type { TaskRecord } from '../../src/sched/commands.js'
import { LiveTaskReader, liveFieldsOf, withLiveFields, type LiveFields } from '../../src/node/client/live-fields.js'
import { MAX_LIVE_TASKS_PER_QUERY } from '../../src/protocol/limits.js'
import { T0, assign, run, submit, task } from './state-fixtures.js'

/** a leader loop whose live progress is 40 % for every running task */
const leader = { liveOf: (r: TaskRecord): TaskRecord => r.status === 'running' ? { ...r, progress: 40, resourceUsage: { cpu: 1, memory: 2 } } : r }

function state (): ClusterState {
  const st = new ClusterState()
  run(st, [submit([task('run'), task('wait'), task('done')]), assign('run', 1, 'd1'), assign('done', 1, 'd1')])
  run(st, [{ type: 'started', at: T0 + 1, taskId: 'run', attempt: 1, deviceId: 'd1' }])
  run(st, [{ type: 'finished', at: T0 + 2, results: [{ taskId: 'done', attempt: 1, deviceId: 'd1', status: 'completed', startedAt: T0, finishedAt: T0 + 2 }] }])
  st.setPendingReason('wait', 'no device runs echo')
  return st
}

describe('live task fields', () => {
  it("the leader's live fields: progress of running tasks, reasons of pending ones, nothing for the rest", () => {
    const got = liveFieldsOf(state(), leader, ['run', 'wait', 'done', 'unknown'])
    assert.deepEqual(got, [
      { taskId: 'run', attempt: 1, progress: 40, resourceUsage: { cpu: 1, memory: 2 } },
      { taskId: 'wait', attempt: 0, pendingReason: 'no device runs echo' }
    ])
  })

  it('merges a field only into a record of the same status and attempt', () => {
    const st = state()
    const running = st.getTask('run')!
    assert.equal(withLiveFields(running, { taskId: 'run', attempt: 1, progress: 40 }).progress, 40)
    assert.equal(withLiveFields(running, { taskId: 'run', attempt: 2, progress: 40 }), running, 'another attempt')
    assert.equal(withLiveFields(running, { taskId: 'run', attempt: 1, pendingReason: 'x' }), running, 'a reason for a running record')
    const pending = new ClusterState()
    run(pending, [submit([task('p')])])
    const rec = pending.getTask('p')!
    assert.equal(withLiveFields(rec, { taskId: 'p', attempt: 0, pendingReason: 'why' }).pendingReason, 'why')
    assert.equal(withLiveFields(rec, { taskId: 'p', attempt: 0, progress: 50 }), rec, 'progress for a pending record')
  })

  it('a follower asks only about pending and running records, in slices, and keeps its own on failure', async () => {
    const st = state()
    const asked: string[][] = []
    const follower = (answer: (ids: string[]) => Promise<unknown>): LiveTaskReader => new LiveTaskReader({
      state: () => st, leader, isLeader: () => false,
      leaderRequest: async (type, body) => { assert.equal(type, 'liveTasks'); asked.push(body.taskIds as string[]); return await answer(body.taskIds as string[]) }
    })
    const fromLeader = async (ids: string[]): Promise<unknown> => ({ ok: true, tasks: liveFieldsOf(st, leader, ids) })
    const recs = ['run', 'wait', 'done'].map(id => ({ ...st.getTask(id)!, pendingReason: undefined }))
    const out = await follower(fromLeader).read(recs)
    assert.deepEqual(asked, [['run', 'wait']])
    assert.deepEqual(out.map(r => [r.id, r.progress, r.pendingReason]), [['run', 40, undefined], ['wait', 0, 'no device runs echo'], ['done', 100, undefined]])

    asked.length = 0
    const many = Array.from({ length: MAX_LIVE_TASKS_PER_QUERY + 1 }, () => st.getTask('run')!)
    await follower(async () => ({ ok: true, tasks: [] as LiveFields[] })).read(many)
    assert.deepEqual(asked.map(a => a.length), [MAX_LIVE_TASKS_PER_QUERY, 1])

    asked.length = 0
    const offline = await follower(async () => { throw new Error('no leader') }).read(many)
    assert.equal(asked.length, 1, 'the first failure ends the query')
    assert.deepEqual(offline, many)
  })
})
