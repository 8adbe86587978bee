// Rate limits (issue 14): the token bucket, the limiter's rules, and planAssignments honouring them
// with a readable pending reason.
import assert from 'node:assert/strict'
import { RateLimiter, TokenBucket, describeRate } from '../../src/sched/rate-limit.js'
import { planAssignments } from '../../src/sched/scheduler.js'
import { ClusterState } from '../../src/sched/state-machine.js'
import { T0, bid, run, submit, task } from './state-fixtures.js'

describe('rate limits', () => {
  it('a token bucket refills at its rate, never above capacity', () => {
    const b = new TokenBucket(2, 10 / 1000, 0) // 10/s, a bucket of 2
    assert.equal(b.take(0), true)
    assert.equal(b.take(0), true)
    assert.equal(b.take(0), false)
    assert.equal(b.take(99), false)
    assert.equal(b.take(100), true)
    assert.equal(b.available(10_000), true)
    assert.equal(b.take(10_000) && b.take(10_000) && !b.take(10_000), true, 'capacity 2 after a long pause')
  })

  it('10/s gives 10 per second over a simulated minute polled every 7 ms (plus the burst of 2)', () => {
    const l = new RateLimiter([{ scope: 'type', key: 'echo', count: 10, perSeconds: 1 }], 0)
    let n = 0
    for (let t = 0; t <= 60_000; t += 7) { if (l.blocked({ taskType: 'echo' }, t) === undefined) { l.take({ taskType: 'echo' }, t); n++ } }
    assert.ok(n >= 600 && n <= 603, `got ${n}`)
  })

  it('explains a limit by type and by principal; other types pass', () => {
    const l = new RateLimiter([{ scope: 'type', key: 'echo', count: 1, perSeconds: 60, burst: 1 }, { scope: 'principal', key: 'bob', count: 2, perSeconds: 1, burst: 2 }], 0)
    l.take({ taskType: 'echo' }, 0)
    assert.equal(l.blocked({ taskType: 'echo' }, 1), 'rate limited: 1/min for type echo')
    assert.equal(l.blocked({ taskType: 'sleep' }, 1), undefined)
    l.take({ taskType: 'sleep', submittedBy: 'bob' }, 0); l.take({ taskType: 'sleep', submittedBy: 'bob' }, 0)
    assert.equal(l.blocked({ taskType: 'sleep', submittedBy: 'bob' }, 1), 'rate limited: 2/s for principal bob')
    assert.equal(describeRate({ scope: 'type', key: 'x', count: 5, perSeconds: 2.5 }), '5/2.5s')
  })

  it('planAssignments places at most the tokens and gives the rest a pending reason', () => {
    const st = new ClusterState()
    run(st, [submit([task('e1'), task('e2'), task('e3'), task('s1', { taskType: 'sleep' })])])
    const limiter = new RateLimiter([{ scope: 'type', key: 'echo', count: 10, perSeconds: 1, burst: 1 }], T0)
    const plan = planAssignments(st, [bid('dev1', { maxConcurrentTasks: 10 })], T0, { maxAssignments: 100, inflightByDevice: new Map(), rateLimiter: limiter })
    assert.deepEqual(plan.assignments.map(a => a.taskId).sort(), ['e1', 's1'])
    assert.equal(plan.pendingReasons.get('e2'), 'rate limited: 10/s for type echo')
    assert.equal(st.getTask('e3')!.pendingReason, 'rate limited: 10/s for type echo')
  })
})
