import assert from 'node:assert/strict'
import { ClusterState } from '../../src/sched/state-machine.js'
import { planAssignments } from '../../src/sched/scheduler.js'
import { T0, bid, run, submit, task } from './state-fixtures.js'

function stateWith (n: number, over: Parameters<typeof task>[1] = {}, prefix = 't'): ClusterState {
  const st = new ClusterState()
  const tasks = Array.from({ length: n }, (_, i) => task(`${prefix}${String(i).padStart(5, '0')}`, over))
  st.apply(submit(tasks), 1)
  return st
}

describe('planAssignments', () => {
  it('spreads a burst over equal devices by counting in-flight assignments', () => {
    const st = stateWith(8)
    const bids = [bid('A'), bid('B'), bid('C'), bid('D')]
    const plan = planAssignments(st, bids, T0, { maxAssignments: 100, inflightByDevice: new Map() })
    assert.equal(plan.assignments.length, 8)
    const perDevice = new Map<string, number>()
    for (const a of plan.assignments) perDevice.set(a.deviceId, (perDevice.get(a.deviceId) ?? 0) + 1)
    assert.deepEqual([...perDevice.values()], [2, 2, 2, 2])
    assert.ok(plan.assignments.every(a => a.attempt === 1))
    // and the assignments apply cleanly
    const out = st.apply({ type: 'assign', at: T0, assignments: plan.assignments }, 2)
    assert.equal(out.events.length, 8)
  })

  it('locality: the local device keeps tasks while under half its slots are taken and its score is within the margin', () => {
    const st = stateWith(6)
    // equal devices: 'B' is local; without the preference ties go to the smaller id
    const bids = [bid('A', { maxConcurrentTasks: 4 }), bid('B', { maxConcurrentTasks: 4 }), bid('C', { maxConcurrentTasks: 4 })]
    const plain = planAssignments(st, bids, T0, { maxAssignments: 1, inflightByDevice: new Map(), setReasons: false })
    assert.deepEqual(plain.assignments.map(a => a.deviceId), ['A'])
    const plan = planAssignments(st, bids, T0, { maxAssignments: 6, inflightByDevice: new Map(), localDeviceId: 'B' })
    // B takes 2 (half of 4), then the burst spreads by score and in-flight load as before
    assert.deepEqual(plan.assignments.map(a => a.deviceId), ['B', 'B', 'A', 'C', 'A', 'C'])
    // the leader's own slots (slotsByDevice, without prefetch) set the half: 2 own slots → 1 task
    const own = planAssignments(st, bids, T0, { maxAssignments: 2, inflightByDevice: new Map(), localDeviceId: 'B', slotsByDevice: new Map([['B', 2]]), setReasons: false })
    assert.deepEqual(own.assignments.map(a => a.deviceId), ['B', 'A'])
    // a much better device wins: the local one is more than LOCAL_SCORE_MARGIN behind
    const strong = [bid('A', { maxConcurrentTasks: 4, cpuUsage: 0 }), bid('B', { maxConcurrentTasks: 4, cpuUsage: 60 })]
    const far = planAssignments(st, strong, T0, { maxAssignments: 1, inflightByDevice: new Map(), localDeviceId: 'B', setReasons: false })
    assert.deepEqual(far.assignments.map(a => a.deviceId), ['A'])
    // a local device that cannot run the task is no preference at all
    const cannot = planAssignments(stateWith(1, { taskType: 'render' }, 'r'), [bid('A', { taskTypes: ['render'] }), bid('B')], T0, { maxAssignments: 1, inflightByDevice: new Map(), localDeviceId: 'B', setReasons: false })
    assert.deepEqual(cannot.assignments.map(a => a.deviceId), ['A'])
  })

  it('prefers the less loaded device and respects free slots and existing in-flight work', () => {
    const st = stateWith(3)
    const bids = [bid('busy', { cpuUsage: 90, activeTasks: 3 }), bid('idle', { cpuUsage: 5, maxConcurrentTasks: 2 })]
    const plan = planAssignments(st, bids, T0, { maxAssignments: 10, inflightByDevice: new Map([['idle', 1]]) })
    // idle has 1 free slot (2 - 1 in flight), busy has 1 (4 - 3)
    assert.deepEqual(plan.assignments.map(a => a.deviceId), ['idle', 'busy'])
  })

  it('passes over tasks in opts.skip (already proposed, not yet applied)', () => {
    const st = stateWith(3)
    const plan = planAssignments(st, [bid('A')], T0, { maxAssignments: 10, inflightByDevice: new Map(), skip: new Set(['t00000']) })
    assert.deepEqual(plan.assignments.map(a => a.taskId), ['t00001', 't00002'])
    assert.equal(st.runningCount('A'), 0)
  })

  it('stops at maxAssignments', () => {
    const st = stateWith(50)
    const plan = planAssignments(st, [bid('A', { maxConcurrentTasks: 100 })], T0, { maxAssignments: 7, inflightByDevice: new Map() })
    assert.equal(plan.assignments.length, 7)
    assert.deepEqual(plan.assignments.map(a => a.taskId), ['t00000', 't00001', 't00002', 't00003', 't00004', 't00005', 't00006'])
  })

  it('names the task type when no device can run it, and sets the pendingReason on the state', () => {
    const st = stateWith(2, { taskType: 'gpu_train' })
    const plan = planAssignments(st, [bid('A'), bid('B')], T0, { maxAssignments: 10, inflightByDevice: new Map() })
    assert.equal(plan.assignments.length, 0)
    assert.equal(plan.pendingReasons.get('t00000'), "no device can run task type 'gpu_train'")
    assert.equal(st.getTask('t00001')!.pendingReason, "no device can run task type 'gpu_train'")
  })

  it('lists each capable device\'s unmet requirements', () => {
    const st = stateWith(1, { req: { minCpuCores: 64 } })
    const plan = planAssignments(st, [bid('A', { cpuCores: 2 }), bid('B', { taskTypes: ['sleep'] })], T0, { maxAssignments: 10, inflightByDevice: new Map() })
    assert.equal(plan.pendingReasons.get('t00000'), "device A: min_cpu_cores: needs 64, device has 2; 1 other device cannot run 'echo'")
  })

  it('says so when every capable device is merely busy', () => {
    const st = stateWith(1, { req: { minCpuCores: 8 } })
    const bids = [bid('big', { cpuCores: 8, activeTasks: 4 }), bid('small', { cpuCores: 2 })]
    const plan = planAssignments(st, bids, T0, { maxAssignments: 10, inflightByDevice: new Map() })
    assert.equal(plan.pendingReasons.get('t00000'), 'waiting for a free slot: the 1 capable device is busy')
  })

  it('honours excludeDevices (failover clones never go back) and exclusive tasks', () => {
    const st = new ClusterState()
    run(st, [submit([task('x', { req: { excludeDevices: ['A'] } }), task('e1', { req: { exclusive: true } }), task('e2', { req: { exclusive: true } }), task('n')])])
    const plan = planAssignments(st, [bid('A'), bid('B')], T0, { maxAssignments: 10, inflightByDevice: new Map() })
    const where = Object.fromEntries(plan.assignments.map(a => [a.taskId, a.deviceId]))
    assert.equal(where.x, 'B')
    // e1 needs an idle device: A (B has x); e2 then finds none idle
    assert.equal(where.e1, 'A')
    assert.equal(where.e2, undefined)
    assert.equal(plan.pendingReasons.get('e2'), 'waiting for a free slot: all 2 capable devices are busy')
    assert.equal(where.n, 'B', 'A is taken exclusively')
  })

  it('skips pending tasks whose retry time has not come', () => {
    const st = new ClusterState()
    run(st, [submit([task('a')]), { type: 'assign', at: T0, assignments: [{ taskId: 'a', attempt: 1, deviceId: 'A' }] },
      { type: 'finished', at: T0 + 1, results: [{ taskId: 'a', attempt: 1, deviceId: 'A', status: 'failed', error: { type: 'network_error', message: 'x' }, startedAt: T0, finishedAt: T0 + 1 }] }])
    assert.equal(planAssignments(st, [bid('A')], T0 + 2, { maxAssignments: 5, inflightByDevice: new Map() }).assignments.length, 0)
    const later = planAssignments(st, [bid('A')], T0 + 5000, { maxAssignments: 5, inflightByDevice: new Map() })
    assert.deepEqual(later.assignments, [{ taskId: 'a', attempt: 2, deviceId: 'A' }])
  })

  it('bounded work: thousands of unschedulable tasks ahead do not block a schedulable one behind them', () => {
    const st = new ClusterState()
    const stuck = Array.from({ length: 5000 }, (_, i) => task(`s${i}`, { taskType: 'gpu_train', priority: 1 }))
    st.apply(submit(stuck), 1)
    st.apply(submit([task('ok', { priority: 5 })]), 2)
    const t = process.hrtime.bigint()
    const plan = planAssignments(st, [bid('A'), bid('B')], T0, { maxAssignments: 10, inflightByDevice: new Map(), maxScan: 10_000 })
    const ms = Number(process.hrtime.bigint() - t) / 1e6
    assert.deepEqual(plan.assignments.map(a => a.taskId), ['ok'])
    assert.equal(plan.pendingReasons.size, 5000)
    assert.ok(ms < 500, `planning took ${ms} ms`)
  })

  it('stops walking once every device is full', () => {
    const st = stateWith(3000)
    const plan = planAssignments(st, [bid('A', { maxConcurrentTasks: 2 })], T0, { maxAssignments: 100, inflightByDevice: new Map() })
    assert.equal(plan.assignments.length, 2)
    assert.equal(plan.pendingReasons.size, 0)
  })

  it('no bids: every scanned task says no device has reported', () => {
    const st = stateWith(2)
    const plan = planAssignments(st, [], T0, { maxAssignments: 10, inflightByDevice: new Map() })
    assert.equal(plan.pendingReasons.get('t00001'), 'no devices in the cluster have reported yet')
  })
})

describe('planAssignments: a failover clone excluded from every device (soak seed 51)', () => {
  // a task declared down on d1, then d2, then d3 (three leader kills in a 3-device cluster)
  function chain (user: string[] = []): ClusterState {
    const st = new ClusterState()
    run(st, [submit([task('t', { req: { excludeDevices: user } })])])
    let id = 't'
    for (const d of ['d1', 'd2', 'd3']) {
      run(st, [{ type: 'assign', at: T0, assignments: [{ taskId: id, attempt: 1, deviceId: d }] }, { type: 'deviceDown', at: T0 + 1, deviceId: d }])
      id = `${id}-f1`
    }
    return st
  }
  const plan = (st: ClusterState, bids: ReturnType<typeof bid>[]) => planAssignments(st, bids, T0 + 10, { maxAssignments: 10, inflightByDevice: new Map() })

  it('goes back to a device it failed on when no other could take it, and the state accepts that', () => {
    const st = chain()
    const clone = st.getTask('t-f1-f1-f1')!
    assert.deepEqual(clone.task.failedOn, ['d1', 'd2', 'd3'])
    assert.deepEqual(clone.task.requirements.excludeDevices, ['d1', 'd2', 'd3'])
    const p = plan(st, [bid('d1'), bid('d2'), bid('d3')])
    assert.equal(p.assignments.length, 1)
    assert.equal(p.assignments[0]!.relaxed, true)
    const out = st.apply({ type: 'assign', at: T0 + 10, assignments: p.assignments }, 20)
    assert.equal(out.rejected, undefined)
    assert.equal(st.getTask('t-f1-f1-f1')!.status, 'queued')
  })

  it('waits for a capable device outside the chain that is only busy, and never relaxes on its own', () => {
    const st = chain()
    assert.equal(plan(st, [bid('d1'), bid('d2'), bid('d4', { activeTasks: 4, maxConcurrentTasks: 4 })]).assignments.length, 0)
    const p = plan(st, [bid('d1'), bid('d4')])
    assert.deepEqual(p.assignments.map(a => [a.deviceId, a.relaxed]), [['d4', undefined]])
  })

  it('a user\'s own exclude_devices always hold, in the planner and in the state', () => {
    const st = chain(['u'])
    assert.deepEqual(st.getTask('t-f1-f1-f1')!.task.failedOn, ['d1', 'd2', 'd3'])
    assert.equal(plan(st, [bid('u')]).assignments.length, 0)
    const p = plan(st, [bid('u'), bid('d2')])
    assert.deepEqual(p.assignments.map(a => [a.deviceId, a.relaxed]), [['d2', true]])
    // a relaxed assignment to the user's excluded device is refused by every replica
    const out = st.apply({ type: 'assign', at: T0 + 10, assignments: [{ taskId: 't-f1-f1-f1', attempt: 1, deviceId: 'u', relaxed: true }] }, 21)
    assert.equal(out.rejected?.[0]?.reason, 'device is excluded')
    // and an assignment back to a failed-on device without the planner's word is refused too
    const out2 = st.apply({ type: 'assign', at: T0 + 10, assignments: [{ taskId: 't-f1-f1-f1', attempt: 1, deviceId: 'd2' }] }, 22)
    assert.equal(out2.rejected?.[0]?.reason, 'device is excluded')
  })
})
