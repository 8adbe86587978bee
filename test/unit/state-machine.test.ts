import assert from 'node:assert/strict'
import { ClusterState } from '../../src/sched/state-machine.js'
import { RetryPolicy } from '../../src/sched/retry.js'
import type { Command } from '../../src/sched/commands.js'
import { T0, assign, finished, result, run, submit, task } from './state-fixtures.js'

function fresh (): ClusterState { return new ClusterState() }

describe('ClusterState: submit', () => {
  it('records a pending task, emits submit, replies with the id', () => {
    const st = fresh()
    const out = st.apply(submit([task('a')]), 1)
    assert.deepEqual(out.reply, { ok: true, taskIds: ['a'], duplicate: false })
    assert.deepEqual(out.events, [{ kind: 'submit', taskId: 'a', at: T0 }])
    const rec = st.getTask('a')!
    assert.equal(rec.status, 'pending')
    assert.equal(rec.submittedAt, T0)
    assert.equal(rec.submittedBy, 'alice')
    assert.equal(st.counts.pending, 1)
    assert.deepEqual(st.pendingInOrder(T0).map(t => t.id), ['a'])
    assert.equal(st.appliedIndex, 1)
  })

  it('dedups a retried requestId with the same reply, duplicate:true, and records nothing new', () => {
    const st = fresh()
    const cmd = submit([task('a')])
    st.apply(cmd, 1)
    const again = st.apply({ ...cmd, tasks: [task('zzz')] } as Command, 2)
    assert.deepEqual(again.reply, { ok: true, taskIds: ['a'], duplicate: true })
    assert.deepEqual(again.events, [])
    assert.equal(st.getTask('zzz'), undefined)
    assert.equal(st.size, 1)
  })

  it('treats an existing task id and an existing idempotencyKey as duplicates, not errors', () => {
    const st = fresh()
    st.apply(submit([task('a', { idempotencyKey: 'k1' })]), 1)
    assert.deepEqual(st.apply(submit([task('a')]), 2).reply, { ok: true, taskIds: ['a'], duplicate: true })
    assert.deepEqual(st.apply(submit([task('b', { idempotencyKey: 'k1' })]), 3).reply, { ok: true, taskIds: ['a'], duplicate: true })
    assert.equal(st.getTask('b'), undefined)
    assert.equal(st.size, 1)
  })

  it('refuses bad input naming the field, and changes nothing', () => {
    const st = fresh()
    const bad = { ...task('a'), priority: 9 }
    const out = st.apply(submit([task('ok'), bad]), 1)
    assert.equal(out.reply?.ok, false)
    assert.equal(out.reply?.ok === false && out.reply.error.field, 'tasks[1].priority')
    assert.equal(st.size, 0)
    const dup = st.apply(submit([task('x'), task('x')]), 2)
    assert.equal(dup.reply?.ok === false && dup.reply.error.field, 'tasks[1].id')
    const empty = st.apply(submit([]), 3)
    assert.equal(empty.reply?.ok === false && empty.reply.error.type, 'invalid_payload')
    assert.equal(st.size, 0)
    assert.deepEqual((st.apply({ type: 'nope' } as unknown as Command, 4)).reply?.ok, false)
  })

  it('does not remember a refused requestId: a retry after fixing the cause can succeed', () => {
    const st = new ClusterState({ maxQueueSize: 1 })
    st.apply(submit([task('a')]), 1)
    const cmd = submit([task('b')])
    const out = st.apply(cmd, 2)
    assert.equal(out.reply?.ok === false && out.reply.error.type, 'queue_full')
    assert.equal(st.getTask('b'), undefined)
    st.apply(assign('a', 1, 'd1'), 3)
    assert.deepEqual(st.apply(cmd, 4).reply, { ok: true, taskIds: ['b'], duplicate: false })
  })

  it('a full queue still takes back retried, refused and failed-over tasks (never throws mid-apply)', () => {
    const st = new ClusterState({ maxQueueSize: 2 })
    run(st, [submit([task('a'), task('b')]), assign('a', 1, 'd1'), submit([task('c')])])
    assert.equal(st.readySize, 2)
    st.apply({ type: 'deviceDown', at: T0 + 1, deviceId: 'd1' }, 9)
    assert.equal(st.readySize, 3)
    assert.deepEqual(st.devicesWithTasks(), [])
    assert.equal(st.apply(submit([task('d')]), 10).reply?.ok, false)
  })

  it('a batch is atomic: queue full → nothing recorded, not even the batch', () => {
    const st = new ClusterState({ maxQueueSize: 3 })
    const out = st.apply(submit([task('a'), task('b'), task('c'), task('d')], { batch: { id: 'B', name: 'b' } }), 1)
    assert.equal(out.reply?.ok, false)
    assert.equal(st.size, 0)
    assert.equal(st.batchProgress('B'), undefined)
  })

  it('permissions: a submitter may not submit a command task; an admin may; setRole changes it', () => {
    const st = fresh()
    const out = st.apply(submit([task('c', { taskType: 'command' })], { principal: 'bob' }), 1)
    assert.equal(out.reply?.ok === false && out.reply.error.type, 'permission_denied')
    assert.equal(st.size, 0)
    assert.equal(st.roleOf('admin:ops'), 'admin')
    assert.equal(st.roleOf('local-admin'), 'admin')
    assert.equal(st.roleOf('bob'), 'submitter')
    // only admins change roles
    const denied = st.apply({ type: 'setRole', at: T0, principal: 'bob', role: 'operator', by: 'carol' }, 2)
    assert.equal(denied.reply?.ok === false && denied.reply.error.type, 'permission_denied')
    assert.equal(st.roleOf('bob'), 'submitter')
    assert.equal(st.apply({ type: 'setRole', at: T0, principal: 'bob', role: 'operator', by: 'local-admin' }, 3).reply?.ok, true)
    assert.equal(st.roleOf('bob'), 'operator')
    assert.equal(st.apply(submit([task('c', { taskType: 'command' })], { principal: 'bob' }), 4).reply?.ok, true)
    st.apply({ type: 'setRole', at: T0, principal: 'bob', role: 'viewer', by: 'local-admin' }, 5)
    assert.equal(st.apply(submit([task('d')], { principal: 'bob' }), 6).reply?.ok === false, true)
    st.apply({ type: 'setRole', at: T0, principal: 'bob', role: null, by: 'local-admin' }, 7)
    assert.equal(st.roleOf('bob'), 'submitter')
    const badRole = st.apply({ type: 'setRole', at: T0, principal: 'bob', role: 'king' as never, by: 'local-admin' }, 8)
    assert.equal(badRole.reply?.ok === false && badRole.reply.error.field, 'role')
  })

  it('orders pending tasks by priority then FIFO, honouring notBefore', () => {
    const st = fresh()
    run(st, [submit([task('low', { priority: 5 }), task('n1'), task('urgent', { priority: 1 }), task('n2')])])
    assert.deepEqual(st.pendingInOrder(T0).map(t => t.id), ['urgent', 'n1', 'n2', 'low'])
    assert.deepEqual(st.pendingInOrder(T0, 2).map(t => t.id), ['urgent', 'n1'])
  })
})

describe('ClusterState: assign / started / finished', () => {
  it('walks pending → queued → running → completed with events and result', () => {
    const st = fresh()
    st.apply(submit([task('a')]), 1)
    const a = st.apply(assign('a', 1, 'd1'), 2)
    assert.deepEqual(a.events, [{ kind: 'schedule', taskId: 'a', attempt: 1, deviceId: 'd1', at: T0 }])
    assert.equal(st.getTask('a')!.status, 'queued')
    assert.equal(st.getTask('a')!.deviceId, 'd1')
    assert.deepEqual(st.runningOn('d1').map(t => t.id), ['a'])
    assert.equal(st.pendingInOrder(T0).length, 0)
    const s = st.apply({ type: 'started', at: T0 + 1, taskId: 'a', attempt: 1, deviceId: 'd1' }, 3)
    assert.equal(s.events[0].kind, 'start')
    assert.equal(st.getTask('a')!.status, 'running')
    assert.equal(st.getTask('a')!.startedAt, T0 + 1)
    const f = st.apply(finished(result('a', 1, 'd1', 'completed', { result: { x: 1 }, resourceUsage: { cpu: 5, memory: 10 } })), 4)
    assert.equal(f.events[0].kind, 'complete')
    const rec = st.getTask('a')!
    assert.equal(rec.status, 'completed')
    assert.deepEqual(rec.result, { x: 1 })
    assert.equal(rec.progress, 100)
    assert.deepEqual(rec.resourceUsage, { cpu: 5, memory: 10 })
    assert.equal(rec.attempts[0].status, 'completed')
    assert.deepEqual(st.runningOn('d1'), [])
    assert.deepEqual(st.counts, { pending: 0, queued: 0, running: 0, completed: 1, failed: 0, cancelled: 0, timeout: 0 })
  })

  it('ignores assignments with the wrong attempt, a non-pending task, or before notBefore', () => {
    const st = fresh()
    st.apply(submit([task('a'), task('b')]), 1)
    const wrong = st.apply(assign('a', 2, 'd1'), 2)
    assert.deepEqual(wrong.events, [])
    assert.deepEqual(wrong.rejected, [{ taskId: 'a', attempt: 2, deviceId: 'd1', reason: 'attempt 2 is not the next one (1)' }])
    assert.equal(st.apply(assign('a', 1, 'd1'), 99).rejected, undefined)
    st.apply({ type: 'refused', at: T0, taskId: 'a', attempt: 1, deviceId: 'd1', reason: 'x' }, 100)
    assert.deepEqual(st.apply(assign('nope', 1, 'd1'), 3).events, [])
    st.apply(assign('b', 1, 'd1'), 4)
    const again = st.apply(assign('b', 2, 'd2'), 5)
    assert.deepEqual(again.events, [])
    assert.equal(again.rejected?.[0].reason, 'task is queued')
    assert.equal(st.getTask('b')!.deviceId, 'd1')
    assert.equal(st.getTask('a')!.status, 'pending')
  })

  it('a result for a queued (not yet started) attempt still completes it', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1'), finished(result('a', 1, 'd1', 'completed', { result: 7 }))])
    assert.equal(st.getTask('a')!.status, 'completed')
    assert.equal(st.getTask('a')!.result, 7)
  })

  it('a duplicate (taskId, attempt) result is ignored: the outcome is recorded once', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1'), finished(result('a', 1, 'd1', 'completed', { result: 1 }))])
    const again = st.apply(finished(result('a', 1, 'd1', 'failed', { error: { type: 'execution_error', message: 'x' } })), 9)
    assert.deepEqual(again.events, [])
    assert.equal(st.getTask('a')!.status, 'completed')
    assert.equal(st.getTask('a')!.result, 1)
    assert.equal(st.getTask('a')!.staleResults, undefined)
  })

  it('retries a retryable failure with a deterministic notBefore, then runs attempt 2', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1')])
    const out = st.apply(finished(result('a', 1, 'd1', 'failed', { error: { type: 'network_error', message: 'boom' } }), T0 + 100), 3)
    const kinds = out.events.map(e => e.kind)
    // no 'started' came for this attempt: the result implies it ran, so 'start' comes first
    assert.deepEqual(kinds, ['start', 'error', 'retry'])
    const rec = st.getTask('a')!
    assert.equal(rec.status, 'pending')
    assert.equal(rec.deviceId, undefined)
    assert.equal(rec.task.retryCount, 1)
    // default policy: exponential, base 2 s, no jitter → first retry waits 2 s
    assert.equal(rec.notBefore, T0 + 100 + 2000)
    assert.equal(out.events[1].kind === 'error' && out.events[1].final, false)
    assert.deepEqual(st.pendingInOrder(T0 + 100), [])
    assert.deepEqual(st.pendingInOrder(T0 + 2100).map(t => t.id), ['a'])
    assert.deepEqual(st.apply(assign('a', 2, 'd2', T0 + 1000), 4).events, [], 'too early')
    assert.equal(st.apply(assign('a', 2, 'd2', T0 + 2100), 5).events.length, 1)
    st.apply(finished(result('a', 2, 'd2', 'completed', { result: 'ok' })), 6)
    assert.equal(st.getTask('a')!.status, 'completed')
    assert.equal(st.getTask('a')!.attempts.length, 2)
    assert.equal(st.getTask('a')!.attempts[0].error?.type, 'network_error')
    assert.equal(st.getTask('a')!.error, undefined, 'a completed task carries no top-level error')
  })

  it('jittered delays are the same on every node (rng seeded by taskId:attempt)', () => {
    const policy = new RetryPolicy({ jitter: 0.5 })
    const a = new ClusterState({ retryPolicy: policy })
    const b = new ClusterState({ retryPolicy: policy })
    const cmds = [submit([task('a')]), assign('a', 1, 'd1'), finished(result('a', 1, 'd1', 'timeout'))]
    run(a, cmds); run(b, cmds)
    assert.equal(a.getTask('a')!.notBefore, b.getTask('a')!.notBefore)
    assert.ok(a.getTask('a')!.notBefore! > T0 + 10 + 999 && a.getTask('a')!.notBefore! <= T0 + 10 + 2000)
  })

  it('fails for good after maxRetries, keeping every attempt\'s error', () => {
    const st = fresh()
    st.apply(submit([task('a', { req: { maxRetries: 2 } })]), 1)
    let at = T0
    for (let n = 1; n <= 3; n++) {
      at += 100_000
      st.apply(assign('a', n, 'd1', at), st.appliedIndex + 1)
      st.apply(finished(result('a', n, 'd1', 'timeout'), at + 1), st.appliedIndex + 1)
    }
    const rec = st.getTask('a')!
    assert.equal(rec.status, 'timeout')
    assert.equal(rec.attempts.length, 3)
    assert.deepEqual(rec.attempts.map(x => x.error?.type), ['timeout_error', 'timeout_error', 'timeout_error'])
    assert.equal(rec.error?.type, 'timeout_error')
    assert.equal(rec.task.retryCount, 2)
  })

  it('never retries a non-retryable error class', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1')])
    const out = st.apply(finished(result('a', 1, 'd1', 'failed', { error: { type: 'invalid_payload', message: 'bad' } })), 3)
    assert.equal(st.getTask('a')!.status, 'failed')
    assert.deepEqual(out.events.map(e => e.kind), ['start', 'error'])
    assert.equal(out.events[1].kind === 'error' && out.events[1].final, true)
  })

  it('records a result of a superseded attempt as stale and leaves the outcome alone', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1'),
      { type: 'expire', at: T0 + 5, taskId: 'a', attempt: 1 }])
    assert.equal(st.getTask('a')!.status, 'pending')
    assert.equal(st.getTask('a')!.attempts[0].status, 'timeout')
    const late = st.apply(finished(result('a', 1, 'd1', 'completed', { result: 'late' })), 9)
    assert.deepEqual(late.events.map(e => e.kind), ['stale'])
    assert.equal(st.getTask('a')!.status, 'pending')
    assert.equal(st.getTask('a')!.result, undefined)
    assert.equal(st.getTask('a')!.staleResults, 1)
    // the same stale result again is a duplicate: ignored
    assert.deepEqual(st.apply(finished(result('a', 1, 'd1', 'completed')), 10).events, [])
    assert.equal(st.getTask('a')!.staleResults, 1)
  })

  it('refused: back to pending, attempt recorded, not a retry', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1'),
      { type: 'refused', at: T0 + 1, taskId: 'a', attempt: 1, deviceId: 'd1', reason: 'full' }])
    const rec = st.getTask('a')!
    assert.equal(rec.status, 'pending')
    assert.equal(rec.task.retryCount, 0)
    assert.equal(rec.notBefore, undefined)
    assert.equal(rec.attempts[0].refused, true)
    assert.deepEqual(st.runningOn('d1'), [])
    assert.equal(st.apply(assign('a', 2, 'd2', T0 + 2), 4).events.length, 1)
  })

  it('expire of an assigned-but-never-started attempt retries it; a bogus expire does nothing', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1')])
    const out = st.apply({ type: 'expire', at: T0 + 300_000, taskId: 'a', attempt: 1 }, 3)
    assert.deepEqual(out.events.map(e => e.kind), ['error', 'retry'])
    assert.equal(st.getTask('a')!.attempts[0].error?.type, 'timeout_error')
    assert.deepEqual(st.apply({ type: 'expire', at: T0, taskId: 'a', attempt: 1 }, 4).events, [])
    assert.deepEqual(st.apply({ type: 'expire', at: T0, taskId: 'nope', attempt: 1 }, 5).events, [])
  })

  it('ignores malformed results without changing anything', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1')])
    const before = JSON.stringify(st.snapshot())
    const bad = [null, { taskId: 'a', attempt: 1, deviceId: 'd1', status: 'weird' }, { taskId: 'a', attempt: 0, deviceId: 'd1', status: 'completed' }, { taskId: 'a', attempt: 7, deviceId: 'd1', status: 'completed' }]
    assert.deepEqual(st.apply({ type: 'finished', at: T0, results: bad as never }, 3).events, [])
    assert.equal(st.apply({ type: 'finished', at: T0, results: 'x' as never }, 4).reply?.ok, false)
    assert.equal(JSON.stringify(st.snapshot()).replace(/"appliedIndex":\d+/, ''), before.replace(/"appliedIndex":\d+/, ''))
  })

  it('a worker-reported cancelled attempt ends the task cancelled (never retried)', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1'), finished(result('a', 1, 'd1', 'cancelled'))])
    assert.equal(st.getTask('a')!.status, 'cancelled')
    assert.equal(st.getTask('a')!.error?.type, 'cancelled')
  })

  it('started from the wrong device or attempt is ignored', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1')])
    assert.deepEqual(st.apply({ type: 'started', at: T0, taskId: 'a', attempt: 1, deviceId: 'd2' }, 3).events, [])
    assert.deepEqual(st.apply({ type: 'started', at: T0, taskId: 'a', attempt: 2, deviceId: 'd1' }, 4).events, [])
    assert.equal(st.getTask('a')!.status, 'queued')
  })
})

describe('ClusterState: cancel', () => {
  const cancel = (taskId: string, principal = 'alice'): Command => ({ type: 'cancel', at: T0 + 50, taskId, principal })

  it('cancels a pending task at once and removes it from the queue', () => {
    const st = fresh()
    st.apply(submit([task('a')]), 1)
    const out = st.apply(cancel('a'), 2)
    assert.deepEqual(out.reply, { ok: true, taskIds: ['a'], duplicate: false })
    assert.equal(st.getTask('a')!.status, 'cancelled')
    assert.equal(st.pendingInOrder(T0).length, 0)
    assert.equal(st.readySize, 0)
  })

  it('cancels a queued task', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1')])
    const out = st.apply(cancel('a'), 3)
    assert.equal(st.getTask('a')!.status, 'cancelled')
    assert.equal(out.events[0].kind === 'error' && out.events[0].deviceId, 'd1')
    assert.deepEqual(st.runningOn('d1'), [])
  })

  it('cancels a running task; its later result is stale', () => {
    const st = fresh()
    run(st, [submit([task('a')]), assign('a', 1, 'd1'), { type: 'started', at: T0, taskId: 'a', attempt: 1, deviceId: 'd1' }])
    const out = st.apply(cancel('a'), 4)
    assert.equal(out.events[0].kind === 'error' && out.events[0].status, 'cancelled')
    assert.equal(out.events[0].kind === 'error' && out.events[0].deviceId, 'd1')
    const late = st.apply(finished(result('a', 1, 'd1', 'completed', { result: 1 })), 5)
    assert.deepEqual(late.events.map(e => e.kind), ['stale'])
    assert.equal(st.getTask('a')!.status, 'cancelled')
    assert.equal(st.getTask('a')!.staleResults, 1)
  })

  it('refuses to cancel a terminal task (conflict), an unknown one (not_found), or someone else\'s (permission)', () => {
    const st = fresh()
    run(st, [submit([task('a'), task('b')]), assign('a', 1, 'd1'), finished(result('a', 1, 'd1', 'completed'))])
    const t = st.apply(cancel('a'), 9)
    assert.equal(t.reply?.ok === false && t.reply.error.type, 'conflict')
    const nf = st.apply(cancel('zz'), 10)
    assert.equal(nf.reply?.ok === false && nf.reply.error.type, 'not_found')
    const other = st.apply(cancel('b', 'mallory'), 11)
    assert.equal(other.reply?.ok === false && other.reply.error.type, 'permission_denied')
    assert.equal(st.getTask('b')!.status, 'pending')
    assert.equal(st.apply(cancel('b', 'admin:root'), 12).reply?.ok, true)
  })

  it('a cancel applied twice (resent after its answer was lost) answers ok both times; a failed-over original stays a conflict', () => {
    const st = fresh()
    run(st, [submit([task('a'), task('b')]), assign('a', 1, 'd1'), assign('b', 1, 'd2')])
    assert.deepEqual(st.apply(cancel('a'), 9).reply, { ok: true, taskIds: ['a'], duplicate: false })
    const again = st.apply(cancel('a'), 10)
    assert.deepEqual(again.reply, { ok: true, taskIds: ['a'], duplicate: true })
    assert.deepEqual(again.events, [])
    assert.equal(st.getTask('a')!.status, 'cancelled')
    // b's device fails: b ends 'cancelled', replaced by its clone, which runs on; cancelling b says so
    st.apply({ type: 'deviceDown', at: T0 + 100, deviceId: 'd2' }, 11)
    assert.ok(st.getTask('b')!.replacedBy !== undefined)
    const replaced = st.apply(cancel('b'), 12)
    assert.equal(replaced.reply?.ok === false && replaced.reply.error.type, 'conflict')
    assert.match(replaced.reply?.ok === false ? replaced.reply.error.message : '', /failed over to/)
  })
})

describe('ClusterState: deviceDown and failover', () => {
  it('fails every task queued/running on the device and submits clones that exclude it', () => {
    const st = fresh()
    run(st, [submit([task('a'), task('b'), task('c')]), assign('a', 1, 'd1'), assign('b', 1, 'd1'), assign('c', 1, 'd2'),
      { type: 'started', at: T0, taskId: 'a', attempt: 1, deviceId: 'd1' }])
    const out = st.apply({ type: 'deviceDown', at: T0 + 100, deviceId: 'd1' }, 9)
    assert.deepEqual(out.events.filter(e => e.kind === 'failover').map(e => e.kind === 'failover' && [e.taskId, e.cloneId]), [['a', 'a-f1'], ['b', 'b-f1']])
    for (const id of ['a', 'b']) {
      const orig = st.getTask(id)!
      assert.equal(orig.status, 'failed')
      assert.equal(orig.error?.type, 'device_failure')
      assert.equal(orig.replacedBy, `${id}-f1`)
      const clone = st.getTask(`${id}-f1`)!
      assert.equal(clone.status, 'pending')
      assert.equal(clone.replaces, id)
      assert.deepEqual(clone.task.requirements.excludeDevices, ['d1'])
      assert.equal(st.latest(id)!.id, `${id}-f1`)
    }
    assert.deepEqual(st.runningOn('d1'), [])
    assert.equal(st.getTask('c')!.status, 'queued')
    assert.deepEqual(st.pendingInOrder(T0 + 100).map(t => t.id), ['a-f1', 'b-f1'])
    // the dead device's late result is stale
    assert.deepEqual(st.apply(finished(result('a', 1, 'd1', 'completed')), 10).events.map(e => e.kind), ['stale'])
    // the clone is never assigned back to the dead device
    assert.deepEqual(st.apply(assign('a-f1', 1, 'd1', T0 + 100), 12).events, [])
    // the clone failing over again gets a derived id too
    run(st, [assign('a-f1', 1, 'd2', T0 + 101), { type: 'deviceDown', at: T0 + 102, deviceId: 'd2' }])
    assert.equal(st.getTask('a-f1')!.replacedBy, 'a-f1-f1')
    assert.deepEqual(st.getTask('a-f1-f1')!.task.requirements.excludeDevices, ['d1', 'd2'])
    assert.equal(st.latest('a')!.id, 'a-f1-f1')
    // a deviceDown for an idle device does nothing
    assert.deepEqual(st.apply({ type: 'deviceDown', at: T0, deviceId: 'zz' }, 11).events, [])
  })

  it('a failed-over batch member counts through its clone', () => {
    const st = fresh()
    run(st, [submit([task('a'), task('b')], { batch: { id: 'B', name: 'batch' } }), assign('a', 1, 'd1'),
      { type: 'deviceDown', at: T0 + 1, deviceId: 'd1' }, assign('a-f1', 1, 'd2', T0 + 2),
      finished(result('a-f1', 1, 'd2', 'completed'))])
    assert.deepEqual(st.batchProgress('B'), { id: 'B', name: 'batch', total: 2, completed: 1, failed: 0, running: 0, pending: 1, cancelled: 0 })
    assert.equal(st.getTask('a-f1')!.batchId, 'B')
  })
})

describe('ClusterState: queries', () => {
  it('listTasks by status / device / limit, activeTasks, queueStatistics', () => {
    const st = fresh()
    run(st, [submit([task('a'), task('b'), task('c', { priority: 1 })]), assign('a', 1, 'd1'), assign('b', 1, 'd2')])
    assert.deepEqual(st.listTasks({ status: 'queued' }).map(t => t.id).sort(), ['a', 'b'])
    assert.deepEqual(st.listTasks({ deviceId: 'd2' }).map(t => t.id), ['b'])
    assert.equal(st.listTasks({ limit: 2 }).length, 2)
    assert.deepEqual(st.activeTasks().map(t => t.id).sort(), ['a', 'b'])
    const q = st.queueStatistics(T0 + 3000)
    assert.equal(q.size, 1)
    assert.equal(q.byPriority.URGENT, 1)
    assert.equal(q.running, 2)
    assert.equal(q.pending, 1)
    assert.equal(q.avgWaitTimeSeconds, 3)
  })

  it('setPendingReason is local: visible in getTask, absent from the snapshot, cleared on assign', () => {
    const st = fresh()
    st.apply(submit([task('a')]), 1)
    st.setPendingReason('a', "no device can run task type 'echo'")
    assert.equal(st.getTask('a')!.pendingReason, "no device can run task type 'echo'")
    assert.equal(JSON.stringify(st.snapshot()).includes('no device'), false)
    st.apply(assign('a', 1, 'd1'), 2)
    assert.equal(st.getTask('a')!.pendingReason, undefined)
  })
})
