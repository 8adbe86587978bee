// Reliability in the replicated state (issue 13): decayed counts, quarantine of a device that fails
// distinct tasks, its growing length and probation, the 50 % guard, poisoned tasks, what never counts
// against a device, snapshot/restore, and what the scheduler does with it. Scripted command sequences.
import assert from 'node:assert/strict'
import { ClusterState } from '../../src/sched/state-machine.js'
import { planAssignments } from '../../src/sched/scheduler.js'
import { DEFAULT_RELIABILITY, decay, reliabilityScore } from '../../src/sched/reliability.js'
import type { Command } from '../../src/sched/commands.js'
import { T0, bid, finished, result, run, submit, task } from './state-fixtures.js'

const H = 3_600_000
let seq = 0

/** A fresh task run once on `device`, ending with `status` at `at` (no retries unless asked). */
function runOnce (st: ClusterState, device: string, status: 'completed' | 'failed' | 'timeout', at: number, opts: { errorType?: string, maxRetries?: number, id?: string } = {}): string {
  const id = opts.id ?? `t${String(++seq).padStart(5, '0')}`
  const cmds: Command[] = []
  if (st.getTask(id) === undefined) cmds.push(submit([task(id, { req: { maxRetries: opts.maxRetries ?? 0 } })], { at }))
  const attempt = (st.getTask(id)?.attempts.length ?? 0) + 1
  cmds.push({ type: 'assign', at, assignments: [{ taskId: id, attempt, deviceId: device }] })
  const error = status === 'completed' ? undefined : { type: (opts.errorType ?? 'execution_error') as 'execution_error', message: 'boom' }
  cmds.push(finished(result(id, attempt, device, status, { startedAt: at, finishedAt: at, ...(error !== undefined ? { error } : {}) }), at))
  run(st, cmds)
  return id
}

/** Four devices known to the state (one success each), so up to two may be quarantined. */
function fourKnown (at = T0): ClusterState {
  const st = new ClusterState()
  for (const d of ['A', 'B', 'C', 'D']) runOnce(st, d, 'completed', at)
  return st
}

const health = (st: ClusterState, d: string, at: number): string => st.deviceHealth(d, at)
const view = (st: ClusterState, d: string, at: number) => st.deviceReliability(at, d)[0]

describe('reliability: decayed counts and the score', () => {
  it('a new device scores 0.75; successes raise it, failures lower it; counts halve every 24 h', () => {
    assert.equal(reliabilityScore(undefined), 0.75)
    assert.equal(reliabilityScore({ successes: 0, failures: 0, at: 0 }), 0.75)
    assert.ok(reliabilityScore({ successes: 10, failures: 0, at: 0 }) > 0.9)
    assert.ok(reliabilityScore({ successes: 0, failures: 4, at: 0 }) < 0.4)
    const c = { successes: 8, failures: 4, at: 0 }
    decay(c, 24 * H, DEFAULT_RELIABILITY.halfLifeMs)
    assert.deepEqual(c, { successes: 4, failures: 2, at: 24 * H })
    decay(c, 12 * H, DEFAULT_RELIABILITY.halfLifeMs) // a leader whose clock is behind decays nothing
    assert.deepEqual(c, { successes: 4, failures: 2, at: 24 * H })
  })

  it('results of the state machine feed the counts, per device', () => {
    const st = new ClusterState()
    runOnce(st, 'A', 'completed', T0)
    runOnce(st, 'A', 'completed', T0)
    runOnce(st, 'B', 'failed', T0)
    assert.equal(view(st, 'A', T0).successes, 2)
    assert.equal(view(st, 'B', T0).failures, 1)
    assert.ok(view(st, 'A', T0).score > view(st, 'B', T0).score)
    // a day later the counts have halved
    assert.equal(view(st, 'A', T0 + 24 * H).successes, 1)
  })
})

describe('reliability: quarantine, probation, the 50 % guard', () => {
  it('two failures of distinct tasks within 1 h quarantine a device for 1 h, then probation', () => {
    const st = fourKnown()
    runOnce(st, 'A', 'failed', T0 + 1000)
    assert.equal(health(st, 'A', T0 + 1000), 'ok')
    runOnce(st, 'A', 'timeout', T0 + 2000)
    assert.equal(health(st, 'A', T0 + 2000), 'quarantined')
    assert.equal(view(st, 'A', T0 + 2000).quarantinedUntil, T0 + 2000 + H)
    assert.equal(health(st, 'A', T0 + 2000 + H - 1), 'quarantined')
    assert.equal(health(st, 'A', T0 + 2000 + H), 'probation')
    // a success on probation ends it
    runOnce(st, 'A', 'completed', T0 + 2000 + H)
    assert.equal(health(st, 'A', T0 + 2000 + H), 'ok')
  })

  it('failures further apart than the 1 h window do not quarantine', () => {
    const st = fourKnown()
    runOnce(st, 'A', 'failed', T0)
    runOnce(st, 'A', 'failed', T0 + H + 1)
    assert.equal(health(st, 'A', T0 + H + 1), 'ok')
  })

  it('the same task failing twice on a device is one distinct failure', () => {
    const st = fourKnown()
    const id = runOnce(st, 'A', 'failed', T0, { maxRetries: 3, errorType: 'network_error' })
    runOnce(st, 'A', 'failed', T0 + 60_000, { id, errorType: 'network_error' })
    assert.equal(st.getTask(id)?.attempts.length, 2)
    assert.equal(health(st, 'A', T0 + 60_000), 'ok')
  })

  it('one failure on probation quarantines again, each repeat twice as long (1, 2, 4, 8 h), capped at 24 h', () => {
    const st = fourKnown()
    let at = T0
    runOnce(st, 'A', 'failed', at)
    runOnce(st, 'A', 'failed', at)
    const lengths: number[] = []
    for (let i = 0; i < 7; i++) {
      const until = view(st, 'A', at).quarantinedUntil as number
      lengths.push((until - at) / H)
      at = until
      for (const d of ['B', 'C', 'D']) runOnce(st, d, 'completed', at) // the others stay known
      assert.equal(health(st, 'A', at), 'probation')
      runOnce(st, 'A', 'failed', at) // one failure is enough on probation
    }
    assert.deepEqual(lengths, [1, 2, 4, 8, 16, 24, 24])
  })

  it('repeats older than 7 days no longer lengthen a quarantine', () => {
    const st = fourKnown()
    runOnce(st, 'A', 'failed', T0)
    runOnce(st, 'A', 'failed', T0)
    runOnce(st, 'A', 'completed', T0 + H) // probation over
    const later = T0 + 8 * 24 * H
    for (const d of ['B', 'C', 'D']) runOnce(st, d, 'completed', later) // still known
    runOnce(st, 'A', 'failed', later)
    runOnce(st, 'A', 'failed', later)
    assert.equal(view(st, 'A', later).quarantinedUntil, later + H)
  })

  it('quarantineFailures 0 turns quarantine off', () => {
    const st = fourKnown()
    st.apply({ type: 'settings', at: T0, by: 'local-admin', settings: { reliability: { quarantineFailures: 0 } } }, 99)
    for (let i = 0; i < 5; i++) runOnce(st, 'A', 'failed', T0 + i)
    assert.equal(health(st, 'A', T0 + 5), 'ok')
    assert.equal(Math.round(view(st, 'A', T0 + 5).failures), 5)
  })

  it('never more than half of the known devices are quarantined at once', () => {
    const st = fourKnown()
    for (const d of ['A', 'B', 'C']) { runOnce(st, d, 'failed', T0 + 1); runOnce(st, d, 'failed', T0 + 2) }
    assert.deepEqual(['A', 'B', 'C', 'D'].map(d => health(st, d, T0 + 3)), ['quarantined', 'quarantined', 'ok', 'ok'])
    // a lone device is never quarantined
    const one = new ClusterState()
    runOnce(one, 'A', 'failed', T0); runOnce(one, 'A', 'failed', T0)
    assert.equal(health(one, 'A', T0), 'ok')
  })

  it('drains, hand-offs, device-down, cancels, refusals and the task\'s own bad input never count against a device', () => {
    const st = fourKnown()
    // device down (fails the task with device_failure and clones it)
    run(st, [submit([task('down1')], { at: T0 }), { type: 'assign', at: T0, assignments: [{ taskId: 'down1', attempt: 1, deviceId: 'A' }] },
      { type: 'deviceDown', at: T0 + 1, deviceId: 'A' }])
    // hand-off of a draining device
    run(st, [submit([task('ho1')], { at: T0 }), { type: 'assign', at: T0, assignments: [{ taskId: 'ho1', attempt: 1, deviceId: 'A' }] },
      { type: 'started', at: T0, taskId: 'ho1', attempt: 1, deviceId: 'A' },
      { type: 'handoff', at: T0 + 1, phase: 'clone', taskId: 'ho1', attempt: 1, deviceId: 'A', reason: 'on battery' },
      { type: 'handoff', at: T0 + 2, phase: 'release', taskId: 'ho1', attempt: 1, deviceId: 'A', reason: 'on battery' }])
    // cancel, refusal, a worker-reported cancel, invalid payload
    run(st, [submit([task('c1')], { at: T0 }), { type: 'assign', at: T0, assignments: [{ taskId: 'c1', attempt: 1, deviceId: 'A' }] },
      { type: 'cancel', at: T0 + 1, taskId: 'c1', principal: 'alice' }])
    run(st, [submit([task('r1')], { at: T0 }), { type: 'assign', at: T0, assignments: [{ taskId: 'r1', attempt: 1, deviceId: 'A' }] },
      { type: 'refused', at: T0 + 1, taskId: 'r1', attempt: 1, deviceId: 'A', reason: 'full' }])
    runOnce(st, 'A', 'failed', T0 + 2, { errorType: 'invalid_payload' })
    runOnce(st, 'A', 'failed', T0 + 3, { errorType: 'unsupported_operation' })
    assert.equal(view(st, 'A', T0 + 3).failures, 0)
    assert.equal(health(st, 'A', T0 + 3), 'ok')
  })
})

describe('reliability: poisoned tasks', () => {
  it('a task that fails on 3 distinct devices ends failed with type poisoned, and the first two are forgiven', () => {
    const st = fourKnown()
    const id = runOnce(st, 'A', 'failed', T0 + 1, { maxRetries: 10, errorType: 'network_error' })
    runOnce(st, 'B', 'failed', T0 + 60_000, { id, errorType: 'network_error' })
    assert.equal(st.getTask(id)?.status, 'pending')
    const out = run(st, [
      { type: 'assign', at: T0 + 120_000, assignments: [{ taskId: id, attempt: 3, deviceId: 'C' }] },
      finished(result(id, 3, 'C', 'failed', { error: { type: 'network_error', message: 'bad input' } }), T0 + 120_000)
    ])
    const rec = st.getTask(id)
    assert.equal(rec?.status, 'failed')
    assert.equal(rec?.error?.type, 'poisoned')
    assert.match(rec?.error?.message ?? '', /3 distinct devices \(A, B, C\)/)
    assert.ok(out[1].events.some(e => e.kind === 'error' && e.final && e.error.type === 'poisoned'))
    for (const d of ['A', 'B', 'C']) assert.equal(view(st, d, T0 + 120_000).failures, 0, d)
    // forgiven: one more distinct failure on A does not quarantine it
    runOnce(st, 'A', 'failed', T0 + 120_000)
    assert.equal(health(st, 'A', T0 + 120_000), 'ok')
  })

  it('a task with no retry left ends with its own error, and the devices are still forgiven', () => {
    const st = fourKnown()
    const id = runOnce(st, 'A', 'failed', T0 + 1, { maxRetries: 2, errorType: 'network_error' })
    runOnce(st, 'B', 'failed', T0 + 60_000, { id, errorType: 'network_error' })
    runOnce(st, 'C', 'failed', T0 + 120_000, { id, errorType: 'network_error' })
    assert.deepEqual([st.getTask(id)?.status, st.getTask(id)?.error?.type], ['failed', 'network_error'])
    for (const d of ['A', 'B', 'C']) assert.equal(view(st, d, T0 + 120_000).failures, 0, d)
  })

  it('poisonDevices is a replicated setting (0 turns poisoning off)', () => {
    const st = fourKnown()
    const ok = st.apply({ type: 'settings', at: T0, by: 'local-admin', settings: { reliability: { poisonDevices: 0, quarantineFailures: 5 } } }, 99)
    assert.deepEqual(ok.reply, { ok: true, taskIds: [], duplicate: false })
    const id = runOnce(st, 'A', 'failed', T0 + 1, { maxRetries: 3, errorType: 'network_error' })
    runOnce(st, 'B', 'failed', T0 + 60_000, { id, errorType: 'network_error' })
    runOnce(st, 'C', 'failed', T0 + 120_000, { id, errorType: 'network_error' })
    assert.equal(st.getTask(id)?.status, 'pending') // a retry left, not poisoned
    const bad = st.apply({ type: 'settings', at: T0, by: 'local-admin', settings: { reliability: { weight: 2 } } }, 100)
    assert.equal(bad.reply?.ok, false)
    const unknown = st.apply({ type: 'settings', at: T0, by: 'local-admin', settings: { reliability: { nope: 1 } as never } }, 101)
    assert.equal(unknown.reply?.ok, false)
  })
})

describe('reliability: snapshot and restore', () => {
  it('carries the table; an old snapshot without it restores with no records', () => {
    const st = fourKnown()
    runOnce(st, 'A', 'failed', T0 + 1); runOnce(st, 'A', 'failed', T0 + 2)
    const back = ClusterState.restore(structuredClone(st.snapshot()))
    assert.deepEqual(back.deviceReliability(T0 + 5), st.deviceReliability(T0 + 5))
    assert.equal(back.deviceHealth('A', T0 + 5), 'quarantined')
    const old = structuredClone(st.snapshot()) as Record<string, unknown>
    delete old.reliability
    const fromOld = ClusterState.restore(old)
    assert.deepEqual(fromOld.deviceReliability(T0), [])
    assert.equal(fromOld.deviceHealth('A', T0 + 5), 'ok')
  })
})

describe('reliability: placement', () => {
  it('a quarantined device gets no work and the pending reason says so', () => {
    const st = fourKnown()
    runOnce(st, 'A', 'failed', T0 + 1); runOnce(st, 'A', 'failed', T0 + 2)
    run(st, [submit([task('p1')], { at: T0 + 3 })])
    const plan = planAssignments(st, [bid('A')], T0 + 3, { maxAssignments: 10, inflightByDevice: new Map() })
    assert.deepEqual(plan.assignments, [])
    assert.match(plan.pendingReasons.get('p1') ?? '', /quarantined: failed distinct tasks repeatedly, released in 60 min/)
    const both = planAssignments(st, [bid('A'), bid('B')], T0 + 3, { maxAssignments: 10, inflightByDevice: new Map() })
    assert.deepEqual(both.assignments.map(a => a.deviceId), ['B'])
  })

  it('a quarantined device is the last resort of a failover clone that excludes every other live device', () => {
    // a failover clone in a small cluster: B and C were declared down for a moment and are excluded
    const st = fourKnown()
    runOnce(st, 'A', 'failed', T0 + 1); runOnce(st, 'A', 'failed', T0 + 2)
    const clone = task('c1')
    clone.requirements = { ...clone.requirements, excludeDevices: ['B', 'C'] }
    clone.replaces = 'orig'
    const pinned = task('u1') // a user's own exclude_devices pin it to A: the quarantine holds
    pinned.requirements = { ...pinned.requirements, excludeDevices: ['B', 'C'] }
    run(st, [submit([clone, pinned], { at: T0 + 3 })])
    const plan = planAssignments(st, [bid('A'), bid('B'), bid('C')], T0 + 3, { maxAssignments: 10, inflightByDevice: new Map() })
    assert.deepEqual(plan.assignments.map(a => [a.taskId, a.deviceId]), [['c1', 'A']])
    assert.match(plan.pendingReasons.get('u1') ?? '', /quarantined/)
    // a device it may use, even a busy one, is waited for instead
    const withD = planAssignments(st, [bid('A'), bid('B'), bid('C'), { ...bid('D'), activeTasks: 1_000_000 }], T0 + 3, { maxAssignments: 10, inflightByDevice: new Map() })
    assert.deepEqual(withD.assignments, [])
  })

  it('a device on probation gets one task at a time', () => {
    const st = fourKnown()
    runOnce(st, 'A', 'failed', T0 + 1); runOnce(st, 'A', 'failed', T0 + 2)
    const at = T0 + 2 + H
    run(st, [submit([task('q1'), task('q2'), task('q3')], { at })])
    const plan = planAssignments(st, [bid('A')], at, { maxAssignments: 10, inflightByDevice: new Map() })
    assert.equal(plan.assignments.length, 1)
  })

  it('between equal devices the more reliable wins; a retry avoids the device it failed on', () => {
    const st = new ClusterState()
    for (let i = 0; i < 5; i++) runOnce(st, 'B', 'completed', T0)
    runOnce(st, 'A', 'failed', T0)
    run(st, [submit([task('x1')], { at: T0 })])
    const plan = planAssignments(st, [bid('A'), bid('B')], T0, { maxAssignments: 1, inflightByDevice: new Map() })
    assert.deepEqual(plan.assignments.map(a => a.deviceId), ['B'])
    // x2 failed on B (its only failure): the retry goes to A although B is more reliable
    const id = runOnce(st, 'B', 'failed', T0, { maxRetries: 2, id: 'x2', errorType: 'network_error' })
    run(st, [{ type: 'cancel', at: T0, taskId: 'x1', principal: 'alice' }])
    const retry = planAssignments(st, [bid('A'), bid('B')], T0 + 60_000, { maxAssignments: 1, inflightByDevice: new Map() })
    assert.deepEqual(retry.assignments, [{ taskId: id, attempt: 2, deviceId: 'A' }])
  })
})
