// A worker learns from its own copy of the log that an attempt placed on it has ended without it
// (cancelled, preempted, expired, failed over) and stops it. Before, only the leader's one
// cancelAttempt message stopped it: lost to a dropped link or a leader change, the task ran to its
// end (a day, for a long one) for nothing. By attempt: a newer attempt of the same task placed here
// before this node applied the end of the older one keeps running. A real ClusterCore fed entries
// by hand, the real ExecService, Worker and TaskExecutor (a real sleep handler).
import assert from 'node:assert/strict'
import { ClusterCore } from '../../src/node/cluster/core.js'
import { ExecService } from '../../src/node/cluster/exec-service.js'
import { TaskExecutor } from '../../src/node/executor/executor.js'
import { Worker } from '../../src/node/worker/worker.js'
import { createLogger } from '../../src/node/log.js'
import { encodeCommands } from '../../src/protocol/codec.js'
import type { AttemptResult, Command } from '../../src/sched/commands.js'
import { task } from './state-fixtures.js'

const SELF = 'dev-A'
const sleepTask = (id: string, seconds: number): ReturnType<typeof task> => task(id, { taskType: 'sleep', payload: { duration: seconds }, req: { timeoutSeconds: 60, maxRetries: 2 } })

interface Setup {
  core: ClusterCore
  worker: Worker
  ex: TaskExecutor
  got: AttemptResult[]
  apply: (...cmds: Command[]) => void
  /** submit T (a sleep of `seconds`) and place its attempt 1 here in the log; hand the worker `attempt` and wait until it runs */
  placeAndRun: (seconds: number, attempt?: number) => Promise<number>
  close: () => Promise<void>
}

function setup (): Setup {
  const log = createLogger('t', 'silent')
  const core = new ClusterCore(log)
  const ex = new TaskExecutor({ maxConcurrentTasks: 2, logLevel: 'silent', sandboxEnabled: false })
  const got: AttemptResult[] = []
  const worker = new Worker(SELF, ex, { sendResults: async rs => { got.push(...rs); return rs.map(r => `${r.taskId}:${r.attempt}`) }, sendStarted: () => {}, sendProgress: () => {} }, log)
  const exec = new ExecService({
    selfId: SELF,
    channel: { request: async () => { throw new Error('no network here') }, send: async () => {} },
    core,
    leader: () => { throw new Error('not the leader') },
    worker: () => worker,
    raft: () => undefined,
    gossipLastSeen: () => undefined,
    now: () => Date.now(),
    log
  })
  void exec
  let index = 1
  const apply = (...cmds: Command[]): void => { core.applyEntry({ index: ++index, term: 1, type: 'normal', data: encodeCommands(cmds) }) }
  const placeAndRun = async (seconds: number, attempt = 1): Promise<number> => {
    const now = Date.now()
    apply({ type: 'submit', requestId: 'r1', principal: 'alice', at: now, tasks: [sleepTask('T', seconds)] },
      { type: 'assign', at: now, assignments: [{ taskId: 'T', attempt: 1, deviceId: SELF }] })
    worker.assign([{ taskId: 'T', attempt, task: core.state.getTask('T')!.task }])
    await waitFor(() => ex.activeCount === 1, 2000)
    assert.equal(ex.activeCount, 1)
    return now
  }
  return { core, worker, ex, got, apply, placeAndRun, close: async () => { worker.stop(); await ex.close() } }
}

const waitFor = async (cond: () => boolean, ms: number): Promise<void> => {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise(resolve => setTimeout(resolve, 20))
}

describe('worker: an attempt that ended in the log is stopped here, without the leader telling', () => {
  it('a user cancel applied on this node stops the attempt running here (no cancelAttempt message arrives)', async function () {
    this.timeout(10_000)
    const s = setup()
    try {
      await s.placeAndRun(20)
      const t0 = Date.now()
      s.apply({ type: 'cancel', at: Date.now(), taskId: 'T', principal: 'alice' })
      assert.equal(s.core.state.getTask('T')!.status, 'cancelled')
      await waitFor(() => s.got.some(r => r.taskId === 'T'), 3000)
      assert.equal(s.got.find(r => r.taskId === 'T')?.status, 'cancelled')
      assert.ok(Date.now() - t0 < 3000, 'stopped at once, not after its 20 s')
      assert.equal(s.ex.activeCount, 0)
    } finally { await s.close() }
  })

  it('an attempt the leader expired (it heard nothing in time) stops here when this node applies the expiry', async function () {
    this.timeout(10_000)
    const s = setup()
    try {
      await s.placeAndRun(20)
      s.apply({ type: 'expire', at: Date.now(), taskId: 'T', attempt: 1 })
      assert.equal(s.core.state.getTask('T')!.attempts[0]!.status, 'timeout')
      await waitFor(() => s.ex.activeCount === 0, 3000)
      assert.equal(s.ex.activeCount, 0, 'the expired attempt no longer holds a slot here')
    } finally { await s.close() }
  })

  it('the end of an older attempt applied late leaves the newer attempt already running here alone', async function () {
    this.timeout(10_000)
    const s = setup()
    try {
      // the leader gave up on attempt 1 and placed attempt 2 here; its dispatch came before this
      // node applied the end of attempt 1
      const now = await s.placeAndRun(0.6, 2)
      s.apply({ type: 'finished', at: Date.now(), results: [{ taskId: 'T', attempt: 1, deviceId: SELF, status: 'failed', error: { type: 'network_error', message: 'lost' }, startedAt: now, finishedAt: Date.now() }] })
      assert.equal(s.core.state.getTask('T')!.attempts[0]!.status, 'failed')
      await new Promise(resolve => setTimeout(resolve, 100))
      assert.equal(s.ex.activeCount, 1, 'attempt 2 still runs')
      await waitFor(() => s.got.some(r => r.attempt === 2), 3000)
      assert.deepEqual(s.got.map(r => [r.attempt, r.status]), [[2, 'completed']])
    } finally { await s.close() }
  })

  it('an attempt still waiting here for a slot ends cancelled when the log says it was cancelled', async function () {
    this.timeout(10_000)
    const s = setup()
    try {
      const now = Date.now()
      const tasks = ['A', 'B', 'C'].map(id => sleepTask(id, id === 'C' ? 0.1 : 0.8))
      s.apply({ type: 'submit', requestId: 'r1', principal: 'alice', at: now, tasks },
        { type: 'assign', at: now, assignments: tasks.map(t => ({ taskId: t.id, attempt: 1, deviceId: SELF })) })
      s.worker.assign(tasks.map(t => ({ taskId: t.id, attempt: 1, task: s.core.state.getTask(t.id)!.task })))
      await waitFor(() => s.ex.activeCount === 2, 2000) // A and B take both slots, C waits
      s.apply({ type: 'cancel', at: Date.now(), taskId: 'C', principal: 'alice' })
      await waitFor(() => s.got.some(r => r.taskId === 'C'), 2000)
      assert.equal(s.got.find(r => r.taskId === 'C')?.status, 'cancelled')
      await waitFor(() => s.got.length === 3, 3000)
      assert.deepEqual(s.got.filter(r => r.taskId !== 'C').map(r => r.status), ['completed', 'completed'])
    } finally { await s.close() }
  })
})
