import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { IllegalTransitionError } from '../../src/sched/errors.js'
import { assertTransition, canTransition, nextStatuses } from '../../src/sched/status.js'
import { TERMINAL_STATUSES, type TaskStatus } from '../../src/sched/types.js'

const ALL: TaskStatus[] = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timeout']
// the moves the replicated state machine makes (issue 16: the table is now the one it checks;
// queued>timeout added for expire, pending>running|failed and failed|timeout>pending dropped: no
// command makes them, a retry goes running>pending and a failover makes a new task)
const LEGAL = new Set([
  'pending>queued', 'pending>cancelled',
  'queued>running', 'queued>pending', 'queued>cancelled', 'queued>failed', 'queued>timeout',
  'running>completed', 'running>failed', 'running>timeout', 'running>cancelled', 'running>pending'
])

describe('sched task status transitions', () => {
  it('allows exactly the documented transitions (all 49 pairs)', () => {
    for (const from of ALL) {
      for (const to of ALL) {
        assert.equal(canTransition(from, to), LEGAL.has(`${from}>${to}`), `${from} -> ${to}`)
      }
    }
  })

  it('assertTransition throws a typed error naming both ends', () => {
    assert.doesNotThrow(() => assertTransition('running', 'completed'))
    assert.throws(() => assertTransition('completed', 'running'), (e: unknown) =>
      e instanceof IllegalTransitionError && e.from === 'completed' && e.to === 'running' && /completed -> running/.test(e.message))
  })

  it('completed, cancelled, failed and timeout are final (a retry goes running -> pending, a failover makes a clone)', () => {
    for (const s of TERMINAL_STATUSES) assert.deepEqual(nextStatuses(s), [])
    for (const s of TERMINAL_STATUSES) assert.equal(canTransition(s, 'running'), false)
  })

  it('no self-transitions and unknown statuses are refused', () => {
    for (const s of ALL) assert.equal(canTransition(s, s), false)
    assert.equal(canTransition('bogus' as TaskStatus, 'pending'), false)
  })
})
