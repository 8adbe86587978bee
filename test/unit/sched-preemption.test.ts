// Preemption (issue 13): which running work planPreemptions picks for urgent work waiting for a slot,
// and what the 'preempt' command does to the victim (back to the queue, no retry, no blame).
import assert from 'node:assert/strict'
import { ClusterState } from '../../src/sched/state-machine.js'
import { planAssignments } from '../../src/sched/scheduler.js'
import { planPreemptions } from '../../src/sched/preemption.js'
import type { Command } from '../../src/sched/commands.js'
import type { DeviceBid } from '../../src/sched/types.js'
import { CommandSchema } from '../../src/protocol/messages.js'
import { validate } from '../../src/protocol/schema.js'
import { T0, bid, run, submit, task } from './state-fixtures.js'

/** Runs `prio` tasks on devices, started at the given times. */
function running (st: ClusterState, items: Array<{ id: string, priority: number, device: string, startedAt: number }>): void {
  const cmds: Command[] = [submit(items.map(i => task(i.id, { priority: i.priority })), { at: T0 })]
  for (const i of items) {
    cmds.push({ type: 'assign', at: T0, assignments: [{ taskId: i.id, attempt: 1, deviceId: i.device }] })
    cmds.push({ type: 'started', at: i.startedAt, taskId: i.id, attempt: 1, deviceId: i.device })
  }
  run(st, cmds)
}

/** bids as the leader builds them: activeTasks from the state's placements */
function bids (st: ClusterState, ids: string[], slots = 2): DeviceBid[] {
  return ids.map(id => bid(id, { activeTasks: st.runningCount(id), maxConcurrentTasks: slots }))
}

function plan (st: ClusterState, devs: string[], at = T0 + 100): ReturnType<typeof planPreemptions> {
  const b = bids(st, devs)
  const p = planAssignments(st, b, at, { maxAssignments: 10, inflightByDevice: new Map() })
  const inflight = new Map<string, number>()
  for (const a of p.assignments) inflight.set(a.deviceId, (inflight.get(a.deviceId) ?? 0) + 1)
  return planPreemptions(st, b, at, { inflightByDevice: inflight, skip: new Set(p.assignments.map(a => a.taskId)) })
}

describe('preemption: choosing victims', () => {
  it('an URGENT task on a full cluster preempts the most recently started BACKGROUND task', () => {
    const st = new ClusterState()
    running(st, [
      { id: 'bg1', priority: 5, device: 'A', startedAt: T0 + 1 },
      { id: 'bg2', priority: 5, device: 'A', startedAt: T0 + 5 },
      { id: 'bg3', priority: 5, device: 'B', startedAt: T0 + 3 },
      { id: 'n1', priority: 3, device: 'B', startedAt: T0 + 9 }
    ])
    run(st, [submit([task('u1', { priority: 1 })], { at: T0 + 10 })])
    assert.deepEqual(plan(st, ['A', 'B']), [{ taskId: 'bg2', attempt: 1, deviceId: 'A', forTaskId: 'u1' }])
  })

  it('lowest priority goes first: BACKGROUND before LOW, whatever the start times', () => {
    const st = new ClusterState()
    running(st, [
      { id: 'low', priority: 4, device: 'A', startedAt: T0 + 9 },
      { id: 'bg', priority: 5, device: 'A', startedAt: T0 + 1 }
    ])
    run(st, [submit([task('u1', { priority: 1 })], { at: T0 + 10 })])
    assert.deepEqual(plan(st, ['A'], T0 + 100).map(p => p.taskId), ['bg'])
  })

  it('only across the gap: HIGH preempts LOW but not NORMAL; NORMAL preempts nothing', () => {
    const st = new ClusterState()
    running(st, [
      { id: 'n1', priority: 3, device: 'A', startedAt: T0 + 1 },
      { id: 'n2', priority: 3, device: 'A', startedAt: T0 + 2 }
    ])
    run(st, [submit([task('h1', { priority: 2 }), task('u1', { priority: 1 })], { at: T0 + 10 })])
    assert.deepEqual(plan(st, ['A']), []) // NORMAL is never a victim by default (minVictimPriority LOW)
    const st2 = new ClusterState()
    running(st2, [{ id: 'low', priority: 4, device: 'A', startedAt: T0 + 1 }, { id: 'low2', priority: 4, device: 'A', startedAt: T0 + 2 }])
    run(st2, [submit([task('norm', { priority: 3 }), task('h1', { priority: 2 })], { at: T0 + 10 })])
    assert.deepEqual(plan(st2, ['A']).map(p => [p.taskId, p.forTaskId]), [['low2', 'h1']])
  })

  it('one victim per waiting task, each from a slot the task could use; none when a device is merely incapable', () => {
    const st = new ClusterState()
    running(st, [
      { id: 'bg1', priority: 5, device: 'A', startedAt: T0 + 1 },
      { id: 'bg2', priority: 5, device: 'A', startedAt: T0 + 2 }
    ])
    run(st, [submit([task('u1', { priority: 1 }), task('u2', { priority: 1 }), task('gpu', { priority: 1, req: { requiresGpu: true } })], { at: T0 + 10 })])
    const p = plan(st, ['A'])
    assert.deepEqual(p.map(x => [x.taskId, x.forTaskId]), [['bg2', 'u1'], ['bg1', 'u2']])
  })

  it('turned off by the replicated setting', () => {
    const st = new ClusterState()
    running(st, [{ id: 'bg1', priority: 5, device: 'A', startedAt: T0 + 1 }, { id: 'bg2', priority: 5, device: 'A', startedAt: T0 + 2 }])
    run(st, [{ type: 'settings', at: T0, by: 'local-admin', settings: { preemption: { enabled: false } } }, submit([task('u1', { priority: 1 })], { at: T0 + 10 })])
    assert.deepEqual(plan(st, ['A']), [])
  })
})

describe('preemption: the preempt command', () => {
  it('requeues the victim with no retry used and nothing charged to its device; the urgent task then fits', () => {
    const st = new ClusterState()
    running(st, [{ id: 'bg1', priority: 5, device: 'A', startedAt: T0 + 1 }, { id: 'bg2', priority: 5, device: 'A', startedAt: T0 + 2 }])
    run(st, [submit([task('u1', { priority: 1 })], { at: T0 + 10 })])
    const [p] = plan(st, ['A'])
    const cmd: Command = { type: 'preempt', at: T0 + 200, ...p }
    assert.deepEqual(validate(CommandSchema, structuredClone(cmd)), cmd)
    const [out] = run(st, [cmd])
    const rec = st.getTask('bg2')!
    assert.equal(rec.status, 'pending')
    assert.equal(rec.task.retryCount, 0)
    assert.equal(rec.notBefore, undefined)
    assert.deepEqual([rec.attempts[0].status, rec.attempts[0].error?.type], ['cancelled', 'preempted'])
    assert.deepEqual(out.events, [{ kind: 'error', taskId: 'bg2', attempt: 1, deviceId: 'A', at: T0 + 200, error: rec.attempts[0].error, final: false, status: 'cancelled' }])
    assert.deepEqual(st.deviceReliability(T0 + 200), [])
    // the next plan puts the urgent task in the freed slot, before the requeued victim
    const next = planAssignments(st, bids(st, ['A']), T0 + 300, { maxAssignments: 10, inflightByDevice: new Map() })
    assert.deepEqual(next.assignments, [{ taskId: 'u1', attempt: 1, deviceId: 'A' }])
    // a repeat (or a stale proposal) changes nothing; the worker's late result of the attempt is stale
    const [again] = run(st, [cmd, { type: 'finished', at: T0 + 400, results: [{ taskId: 'bg2', attempt: 1, deviceId: 'A', status: 'cancelled', startedAt: T0, finishedAt: T0 + 400 }] }])
    assert.deepEqual(again.events, [])
    assert.equal(st.getTask('bg2')?.status, 'pending')
    assert.equal(st.getTask('bg2')?.staleResults, 1)
  })

  it('survives snapshot/restore like any other state', () => {
    const st = new ClusterState()
    running(st, [{ id: 'bg1', priority: 5, device: 'A', startedAt: T0 + 1 }])
    run(st, [{ type: 'preempt', at: T0 + 5, taskId: 'bg1', attempt: 1, deviceId: 'A', forTaskId: 'u1' }])
    const back = ClusterState.restore(structuredClone(st.snapshot()))
    assert.deepEqual(back.pendingInOrder(T0 + 6).map(r => r.id), ['bg1'])
  })
})
