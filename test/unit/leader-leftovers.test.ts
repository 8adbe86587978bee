// The leader forgets what it keeps per task once the task has ended (the cluster simulator's
// quiescence check found each of these kept for as long as the node led): a worker's progress
// report arriving after its task finished, and an expiry proposed for an attempt that then ended.
// A real ClusterCore and LeaderLoop (leader-harness.ts); entries are committed by hand and the
// leader's pass runs on real timers (100 ms while work is about).
import assert from 'node:assert/strict'
import { bid, task } from './state-fixtures.js'
import { LeaderHarness, turn } from './leader-harness.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('leader: per-task bookkeeping is forgotten once the task has ended', () => {
  it('a progress report that arrives after the task finished is dropped at the next pass', async () => {
    const h = new LeaderHarness([bid('n1', { maxConcurrentTasks: 2 })])
    try {
      await h.start()
      h.submit([task('a')])
      await turn()
      h.commit() // submitted and placed in one entry
      await turn()
      assert.equal(h.core.state.getTask('a')!.status, 'queued')
      h.leader.handleProgress('a', 40)
      const now = Date.now()
      void h.core.proposeAndWait({ type: 'finished', at: now, results: [{ taskId: 'a', attempt: 1, deviceId: 'n1', status: 'completed', result: 1, startedAt: now, finishedAt: now }] }).catch(() => {})
      await turn()
      h.commit()
      assert.equal(h.core.state.getTask('a')!.status, 'completed')
      h.leader.handleProgress('a', 90) // late: the worker's last report crossed its result
      assert.deepEqual(h.leader.leftovers(), { live: 1 })
      await sleep(250)
      assert.deepEqual(h.leader.leftovers(), {})
    } finally { h.close() }
  })

  it('an expiry proposed for an overdue attempt is forgotten once that attempt has ended', async () => {
    const h = new LeaderHarness([bid('n1', { maxConcurrentTasks: 2 })])
    try {
      await h.start()
      // a 1 s timeout; its attempt made a minute old by hand (the leader adds a grace before it expires one)
      h.submit([task('slow', { req: { timeoutSeconds: 1 } })])
      await turn()
      h.commit()
      await turn()
      h.core.state.getTask('slow')!.attempts[0]!.assignedAt = Date.now() - 60_000
      await sleep(250) // a pass: the expiry is proposed
      const proposed = h.take().flat().filter(c => c.type === 'expire')
      assert.equal(proposed.length, 1, 'one expiry proposed')
      assert.deepEqual(h.leader.leftovers(), { expireProposed: 1 })
      h.commit() // it applies: the attempt has ended
      assert.notEqual(h.core.state.getTask('slow')!.status, 'queued')
      await sleep(250)
      assert.equal(h.leader.leftovers().expireProposed, undefined)
    } finally { h.close() }
  })
})
