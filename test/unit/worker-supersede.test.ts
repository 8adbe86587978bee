// A retry of a task reaching the node that still holds its older attempt (the leader expired that
// attempt while it waited in the worker's queue or ran long, and placed the retry here again): the
// older attempt is stopped and ends cancelled, the retry runs. Before, the executor keyed its runs
// by task id alone and refused the retry as invalid_payload ("already running here"): the task
// failed for good, since invalid_payload is not retried.
import assert from 'node:assert/strict'
import { TaskExecutor } from '../../src/node/executor/executor.js'
import { Worker } from '../../src/node/worker/worker.js'
import { createLogger } from '../../src/node/log.js'
import type { AttemptResult } from '../../src/sched/commands.js'

describe('worker: a newer attempt of a task supersedes the older one held here', () => {
  for (const where of ['running', 'waiting'] as const) {
    it(`the older attempt ${where} here ends cancelled; the newer one runs`, async function () {
      this.timeout(10_000)
      const ex = new TaskExecutor({ maxConcurrentTasks: where === 'running' ? 2 : 1, logLevel: 'silent', sandboxEnabled: false })
      const task = (id: string, seconds: number): any => ({ id, taskType: 'sleep', payload: { duration: seconds }, priority: 3, requirements: { timeoutSeconds: 30 }, createdAt: Date.now() })
      const got: AttemptResult[] = []
      const w = new Worker('dev-A', ex, { sendResults: async rs => { got.push(...rs); return rs.map(r => `${r.taskId}:${r.attempt}`) }, sendStarted: () => {}, sendProgress: () => {} }, createLogger('w', 'silent'))
      try {
        if (where === 'waiting') w.assign([{ taskId: 'other', attempt: 1, task: task('other', 0.3) }]) // holds the one slot
        w.assign([{ taskId: 'T', attempt: 1, task: task('T', 5) }])
        await new Promise(resolve => setTimeout(resolve, 100))
        const replies = w.assign([{ taskId: 'T', attempt: 2, task: task('T', 0.2) }])
        assert.equal(replies[0]!.accepted, true)
        for (let i = 0; i < 200 && !got.some(r => r.taskId === 'T' && r.attempt === 2); i++) await new Promise(resolve => setTimeout(resolve, 20))
        const t1 = got.find(r => r.taskId === 'T' && r.attempt === 1)
        const t2 = got.find(r => r.taskId === 'T' && r.attempt === 2)
        assert.equal(t1?.status, 'cancelled')
        assert.equal(t2?.status, 'completed', JSON.stringify(t2))
      } finally {
        w.stop()
        await ex.close()
      }
    })
  }
})
