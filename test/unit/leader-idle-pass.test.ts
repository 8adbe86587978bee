// An idle leader's pass runs once a second, not ten times (issue 12's wake-ups): with nothing queued,
// running or proposed no pass can find anything to place, expire or declare down. Anything that
// kicks the leader (a submit, a result, a retry) brings the 100 ms pass back at once.
import assert from 'node:assert/strict'
import type { CancelTimer, Scheduler } from '../../src/node/scheduler.js'
import { bid, task } from './state-fixtures.js'
import { LeaderHarness, turn } from './leader-harness.js'

/** timers the test fires by hand; immediates run on the real event loop (the core's flush hook) */
class HandTimers implements Scheduler {
  readonly armed: Array<{ fn: () => void, ms: number, cancelled: boolean }> = []
  nowMs = (): number => Date.now()
  monotonicMs = (): number => performance.now()
  timeout = (fn: () => void, ms: number): CancelTimer => {
    const t = { fn, ms, cancelled: false }
    this.armed.push(t)
    return () => { t.cancelled = true }
  }

  interval = (fn: () => void, ms: number): CancelTimer => this.timeout(fn, ms)
  immediate = (fn: () => void): void => { setImmediate(fn) }
  /** the one pass timer armed now */
  live (): { fn: () => void, ms: number } {
    const live = this.armed.filter(t => !t.cancelled)
    assert.equal(live.length, 1, `one pass armed, not ${live.length}`)
    return live[0]!
  }

  /** run the armed pass, as its timer would */
  fire (): void {
    const t = this.live()
    ;(t as { cancelled: boolean }).cancelled = true
    t.fn()
  }
}

describe('leader: the idle pass', () => {
  it('sleeps a second between passes while nothing waits, and 100 ms again once a submit applies', async () => {
    const timers = new HandTimers()
    // no device runs 'render': the task below waits in the queue
    const h = new LeaderHarness([bid('n1', { maxConcurrentTasks: 2 })], timers)
    try {
      await h.start()
      assert.equal(timers.live().ms, 100, 'a new leader passes at once')
      timers.fire()
      assert.equal(timers.live().ms, 1000, 'nothing queued, running or proposed: the idle pass')
      timers.fire()
      assert.equal(timers.live().ms, 1000)
      h.submit([{ ...task('waiting'), taskType: 'render' }])
      await turn()
      h.commit()
      await turn()
      assert.equal(timers.live().ms, 100, 'the applied submit kicked the leader back to the short pass')
      timers.fire()
      assert.equal(timers.live().ms, 100, 'a task waits in the queue: the short pass stays')
    } finally { h.close() }
  })
})
