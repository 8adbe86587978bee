// A handler's progress reaches the leader at most every 250 ms per task, except that 100 % goes at
// once — but once: a handler calling progress(100) in a loop sent the leader a message per call.
import assert from 'node:assert/strict'
import { Worker, type WorkerExecutor } from '../../src/node/worker/worker.js'
import { createLogger } from '../../src/node/log.js'
import type { ExecHooks, ExecOutcome } from '../../src/node/executor/executor.js'
import type { TaskData } from '../../src/sched/types.js'
import { task } from './state-fixtures.js'

/** an executor whose handler reports progress `calls` times in one go, then finishes */
function chattyExecutor (calls: Array<number>): WorkerExecutor {
  let running = 0
  return {
    maxConcurrentTasks: 1,
    get freeSlots () { return 1 - running },
    async execute (_t: TaskData, hooks: ExecHooks = {}): Promise<ExecOutcome> {
      running++
      for (const pct of calls) hooks.onProgress?.(pct)
      await new Promise(resolve => setTimeout(resolve, 20))
      running--
      return { status: 'completed', result: null, startedAt: Date.now(), finishedAt: Date.now() }
    },
    cancel: () => false
  }
}

async function reported (calls: number[]): Promise<number[]> {
  const sent: number[] = []
  let done = false
  const w = new Worker('dev-A', chattyExecutor(calls), {
    sendResults: async rs => { done = true; return rs.map(r => `${r.taskId}:${r.attempt}`) },
    sendStarted: () => {},
    sendProgress: (_id, _a, pct) => { sent.push(pct) }
  }, createLogger('w', 'silent'))
  try {
    w.assign([{ taskId: 'T', attempt: 1, task: task('T') }])
    for (let i = 0; i < 100 && !done; i++) await new Promise(resolve => setTimeout(resolve, 10))
    assert.ok(done)
    return sent
  } finally { w.stop() }
}

describe('worker: progress reports are throttled', () => {
  it('progress(100) called 1,000 times in a row reaches the leader once', async () => {
    assert.deepEqual(await reported(Array(1000).fill(100)), [100])
  })

  it('many reports within 250 ms: the first, then 100 % at once', async () => {
    assert.deepEqual(await reported([10, 20, 30, 40, 100, 100, 100]), [10, 100])
  })
})
