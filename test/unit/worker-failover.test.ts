// The worker and the state machine together, in the interleavings a leader change produces:
// a result that reaches the log before its assignment, and prefetched work of mixed priorities.
// Real executor (inline echo/sleep handlers), real ClusterState; the "leader" is these tests.
import { strict as assert } from 'node:assert'
import { ClusterState } from '../../src/sched/state-machine.js'
import type { AttemptResult } from '../../src/sched/commands.js'
import { TaskExecutor } from '../../src/node/executor/executor.js'
import { Worker, type Assignment } from '../../src/node/worker/worker.js'
import { createLogger } from '../../src/node/log.js'
import { eventually } from '../helpers/eventually.js'
import { assign, finished, run, submit, task } from './state-fixtures.js'

const DEV = 'device-A'

/** A worker whose results go straight into `st` as 'finished' entries, acknowledged once "committed". */
function workerOver (st: ClusterState, maxConcurrentTasks = 2): { worker: Worker, sent: AttemptResult[] } {
  const sent: AttemptResult[] = []
  const executor = new TaskExecutor({ maxConcurrentTasks, logLevel: 'silent' })
  const worker = new Worker(DEV, executor, {
    sendResults: async (results) => {
      sent.push(...results)
      run(st, [finished(results.map(r => ({ ...r })))])
      return results.map(r => `${r.taskId}:${r.attempt}`) // committed = acknowledged, applied or not
    },
    sendStarted: () => {},
    sendProgress: () => {}
  }, createLogger('worker-test', 'silent'))
  return { worker, sent }
}

describe('worker × state machine: a result committed before its assignment', () => {
  it('the repeated assignment is answered with the recorded outcome, and the task completes', async () => {
    const st = new ClusterState()
    const t = task('t1', { payload: { message: 'hi' } })
    run(st, [submit([t])])
    const { worker, sent } = workerOver(st)
    const a: Assignment = { taskId: 't1', attempt: 1, task: t }
    // the old leader dispatched (t1, 1, A) while proposing it, then died before the assign committed
    worker.assign([a])
    await eventually(() => sent.length === 1, { timeoutMs: 3000 })
    // the result was committed and acknowledged, but no assignment is in the state yet: not applied
    assert.equal(st.getTask('t1')?.status, 'pending')
    assert.equal(st.getTask('t1')?.staleResults, 1)
    // the new leader assigns the same (task, attempt, device) and dispatches it
    run(st, [assign('t1', 1, DEV)])
    assert.equal(st.getTask('t1')?.status, 'queued')
    worker.assign([a])
    await eventually(() => st.getTask('t1')?.status === 'completed', { timeoutMs: 3000, message: 't1 stuck' })
    assert.deepEqual(st.getTask('t1')?.result, { message: 'hi' })
    assert.equal(sent.length, 2, 'answered from memory, not run again')
    worker.stop()
  })

  it('a repeat that arrives while the result is being sent gets the result sent again after the ack (soak seed 11)', async () => {
    const st = new ClusterState()
    const t = task('t3', { payload: { message: 'in flight' } })
    run(st, [submit([t])])
    const sent: AttemptResult[] = []
    let releaseFirst: (() => void) | undefined
    const executor = new TaskExecutor({ maxConcurrentTasks: 1, logLevel: 'silent' })
    const worker = new Worker(DEV, executor, {
      sendResults: async (results) => {
        sent.push(...results)
        // the first send is committed (before any assignment: dropped as early) but acknowledged late
        run(st, [finished(results.map(r => ({ ...r })))])
        if (sent.length === 1) await new Promise<void>(resolve => { releaseFirst = resolve })
        return results.map(r => `${r.taskId}:${r.attempt}`)
      },
      sendStarted: () => {},
      sendProgress: () => {}
    }, createLogger('worker-test', 'silent'))
    const a: Assignment = { taskId: 't3', attempt: 1, task: t }
    worker.assign([a]) // an old leader's early dispatch
    await eventually(() => releaseFirst !== undefined, { timeoutMs: 3000 })
    assert.equal(st.getTask('t3')?.status, 'pending')
    run(st, [assign('t3', 1, DEV)]) // the new leader's assignment commits…
    worker.assign([a]) // …and reaches the worker while the old send waits for its ack
    releaseFirst!()
    await eventually(() => st.getTask('t3')?.status === 'completed', { timeoutMs: 3000, message: 't3 stuck' })
    assert.equal(sent.length, 2)
    worker.stop()
  })

  it('a repeat after the outcome is applied changes nothing (duplicate result ignored)', async () => {
    const st = new ClusterState()
    const t = task('t2')
    run(st, [submit([t]), assign('t2', 1, DEV)])
    const { worker, sent } = workerOver(st)
    worker.assign([{ taskId: 't2', attempt: 1, task: t }])
    await eventually(() => st.getTask('t2')?.status === 'completed', { timeoutMs: 3000 })
    const before = JSON.stringify(st.getTask('t2'))
    worker.assign([{ taskId: 't2', attempt: 1, task: t }]) // e.g. a new leader's redispatch before its tail applied
    await eventually(() => sent.length === 2, { timeoutMs: 3000 })
    assert.equal(JSON.stringify(st.getTask('t2')), before)
    worker.stop()
  })
})

describe('worker: prefetched work starts in priority order', () => {
  it('URGENT that arrives after ten LOW starts before every LOW', async () => {
    const st = new ClusterState()
    const long = task('long', { taskType: 'sleep', payload: { duration: 0.3 }, priority: 3 })
    const lows = Array.from({ length: 10 }, (_, i) => task(`low${i}`, { priority: 4 }))
    const urgent = task('urgent', { priority: 1 })
    run(st, [submit([long, ...lows, urgent])])
    const { worker, sent } = workerOver(st, 1)
    worker.assign([{ taskId: 'long', attempt: 1, task: long }])
    worker.assign(lows.map(t => ({ taskId: t.id, attempt: 1, task: t })))
    worker.assign([{ taskId: 'urgent', attempt: 1, task: urgent }])
    await eventually(() => sent.length === 12, { timeoutMs: 5000 })
    const order = sent.map(r => r.taskId)
    assert.equal(order[0], 'long')
    assert.equal(order[1], 'urgent', `order was ${order.join(',')}`)
    worker.stop()
  })
})
