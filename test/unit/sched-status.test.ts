import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { IllegalTransitionError } from '../../src/sched/errors.js'
import { assertTransition, canTransition, nextStatuses } from '../../src/sched/status.js'
import { TERMINAL_STATUSES, type TaskStatus } from '../../src/sched/types.js'

const ALL: TaskStatus[] = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timeout']
const LEGAL = new Set([
  'pending>queued', 'pending>running', 'pending>cancelled', 'pending>failed',
  'queued>running', 'queued>pending', 'queued>cancelled', 'queued>failed',
  'running>completed', 'running>failed', 'running>timeout', 'running>cancelled', 'running>pending',
  'failed>pending', 'timeout>pending'
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

  it('completed and cancelled are final; failed and timeout only go back to pending (a retry)', () => {
    assert.deepEqual(nextStatuses('completed'), [])
    assert.deepEqual(nextStatuses('cancelled'), [])
    assert.deepEqual(nextStatuses('failed'), ['pending'])
    assert.deepEqual(nextStatuses('timeout'), ['pending'])
    for (const s of TERMINAL_STATUSES) assert.equal(canTransition(s, 'running'), false)
  })

  it('no self-transitions and unknown statuses are refused', () => {
    for (const s of ALL) assert.equal(canTransition(s, s), false)
    assert.equal(canTransition('bogus' as TaskStatus, 'pending'), false)
  })
})
