// Issue 16(b): the state machine's status changes follow src/sched/status.ts's table. An illegal
// move is refused by the command's own guard before anything changes (the command gets its usual
// outcome); one that slipped past a guard would be counted by setStatus (never thrown: a throw in
// apply halts every node at the same index). These tests fail if any command, in long seeded
// streams or in the hand-made odd cases below, attempts a move outside the table.
import assert from 'node:assert/strict'
import { ClusterState } from '../../src/sched/state-machine.js'
import type { Command } from '../../src/sched/commands.js'
import type { TaskStatus } from '../../src/sched/types.js'
import { canTransition } from '../../src/sched/status.js'
import { createState, type State } from '../../src/sched/state/state.js'
import { insertTask, setStatus } from '../../src/sched/state/records.js'
import { T0, assign, finished, result, run, submit, task } from './state-fixtures.js'
import { canonical, replay } from './state-transcript.js'

/**
 * The replicated image without the index (every applied command advances it) and, with `stale`, without
 * the stale-result bookkeeping (a late result is recorded as stale: that is its outcome, not a move).
 */
function image (st: ClusterState, stale = false): string {
  const { appliedIndex: _i, ...rest } = structuredClone(st.snapshot())
  if (stale) {
    for (const t of rest.tasks) {
      delete t.staleResults
      for (const a of t.attempts) delete a.reported
    }
  }
  return canonical(rest)
}

describe('ClusterState: status changes follow src/sched/status.ts', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed}: 700 transcript commands make no move outside the table`, () => {
      replay(seed, 700, ({ step, cmd, applied }) => {
        const bad = applied.illegalTransitions()
        assert.equal(bad.count, 0, `step ${step} (${cmd.type}): illegal move ${JSON.stringify(bad.last)}`)
      })
    })
  }

  it('a move outside the table that reaches setStatus is counted, not thrown (a throw would halt the cluster)', () => {
    const s: State = createState()
    const rec = insertTask(s, task('a'), 'alice', T0)
    assert.equal(canTransition('pending', 'completed'), false)
    assert.doesNotThrow(() => setStatus(s, rec, 'completed'))
    assert.deepEqual(s.illegalTransitions, { count: 1, last: { taskId: 'a', from: 'pending', to: 'completed', at: 0 } })
    assert.equal(s.counts.completed, 1, 'the move is made: indexes stay consistent')
  })

  it('a fresh replica reports none', () => {
    assert.deepEqual(new ClusterState().illegalTransitions(), { count: 0 })
  })

  /** a task 'a' ended with `how`, on device d1 at attempt 1 */
  function ended (how: 'completed' | 'failed' | 'timeout' | 'cancelled'): ClusterState {
    const st = new ClusterState()
    run(st, [submit([task('a', { req: { maxRetries: 0 } })]), assign('a', 1, 'd1')])
    if (how === 'cancelled') run(st, [{ type: 'cancel', at: T0 + 5, taskId: 'a', principal: 'alice' }])
    else run(st, [finished(result('a', 1, 'd1', how, how === 'failed' ? { error: { type: 'execution_error', message: 'x' } } : {}))])
    assert.equal(st.getTask('a')?.status, how)
    return st
  }

  const odd: Array<[string, Command]> = [
    ['assign', { type: 'assign', at: T0 + 100, assignments: [{ taskId: 'a', attempt: 2, deviceId: 'd2' }] }],
    ['started', { type: 'started', at: T0 + 100, taskId: 'a', attempt: 1, deviceId: 'd1' }],
    ['finished', finished(result('a', 1, 'd1', 'completed'), T0 + 100)],
    ['finished (next attempt)', finished(result('a', 2, 'd1', 'failed'), T0 + 100)],
    ['refused', { type: 'refused', at: T0 + 100, taskId: 'a', attempt: 1, deviceId: 'd1', reason: 'full' }],
    ['expire', { type: 'expire', at: T0 + 100, taskId: 'a', attempt: 1 }],
    ['cancel', { type: 'cancel', at: T0 + 100, taskId: 'a', principal: 'local-admin' }],
    ['deviceDown', { type: 'deviceDown', at: T0 + 100, deviceId: 'd1' }],
    ['handoff clone', { type: 'handoff', at: T0 + 100, phase: 'clone', taskId: 'a', attempt: 1, deviceId: 'd1', reason: 'drain' }],
    ['handoff release', { type: 'handoff', at: T0 + 100, phase: 'release', taskId: 'a', attempt: 1, deviceId: 'd1', reason: 'drain' }]
  ]
  for (const how of ['completed', 'failed', 'timeout', 'cancelled'] as const) {
    it(`a ${how} task stays ${how}: every command that would move it again is refused and changes nothing`, () => {
      for (const [name, cmd] of odd) {
        const st = ended(how)
        const stale = cmd.type === 'finished'
        const before = image(st, stale)
        const out = st.apply(structuredClone(cmd), st.appliedIndex + 1)
        assert.equal(st.getTask('a')?.status, how, `${name} moved a ${how} task`)
        assert.equal(image(st, stale), before, `${name} changed the state of a ${how} task`)
        if (stale) assert.ok(out.events.every(e => e.kind === 'stale'), `${name}: only recorded as stale`)
        else assert.deepEqual(out.events, [], name)
        assert.equal(st.illegalTransitions().count, 0, name)
        if (cmd.type === 'assign') assert.match(out.rejected?.[0]?.reason ?? '', new RegExp(`task is ${how}`))
        // a cancelled task cancelled again: the same answer as the first (a resent cancel), nothing changed
        if (cmd.type === 'cancel' && how === 'cancelled') assert.deepEqual(out.reply, { ok: true, taskIds: ['a'], duplicate: true })
        else if (cmd.type === 'cancel') assert.equal(out.reply?.ok === false && out.reply.error.type, 'conflict')
      }
    })
  }

  it('expire of an attempt that never started is queued -> timeout, a move the old table lacked', () => {
    const st = new ClusterState()
    run(st, [submit([task('a', { req: { maxRetries: 0 } })]), assign('a', 1, 'd1')])
    assert.equal(st.getTask('a')?.status, 'queued')
    const out = st.apply({ type: 'expire', at: T0 + 1000, taskId: 'a', attempt: 1 }, st.appliedIndex + 1)
    assert.equal(st.getTask('a')?.status, 'timeout' satisfies TaskStatus)
    assert.deepEqual(out.events.map(e => e.kind), ['error'])
    assert.equal(st.illegalTransitions().count, 0)
  })
})
