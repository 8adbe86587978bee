import assert from 'node:assert/strict'
import { ClusterState } from '../../src/sched/state-machine.js'
import type { Command, WorkflowInfo } from '../../src/sched/commands.js'
import { T0, assign, finished, result, run, submit, task } from './state-fixtures.js'

/** a → b, a → c, (b, c) → d; d reads b's and c's results. */
function diamond (id = 'W'): WorkflowInfo {
  return {
    id, name: 'diamond',
    steps: [
      { name: 'a', task: task(`${id}a`, { payload: { path: '/in' } }), dependsOn: [] },
      { name: 'b', task: task(`${id}b`, { payload: { from: '{{steps.a.result.out}}' } }), dependsOn: ['a'] },
      { name: 'c', task: task(`${id}c`, { payload: { all: '{{prev.result}}' } }), dependsOn: ['a'] },
      {
        name: 'd',
        task: task(`${id}d`, { payload: { model: '{{steps.b.result.model}}', msg: 'b said {{steps.b.result.model.kind}} and c {{steps.c.result}}', prev: '{{prev.result}}' } }),
        dependsOn: ['b', 'c']
      }
    ]
  }
}

function complete (st: ClusterState, id: string, value: unknown, device = 'd1'): ReturnType<ClusterState['apply']> {
  const attempt = st.getTask(id)!.attempts.length + 1
  st.apply(assign(id, attempt, device, T0 + 1), st.appliedIndex + 1)
  return st.apply(finished(result(id, attempt, device, 'completed', { result: value })), st.appliedIndex + 1)
}

describe('ClusterState: workflows', () => {
  it('keeps steps with unfinished deps blocked (pending, not schedulable) with a reason', () => {
    const st = new ClusterState()
    const out = st.apply(submit([], { workflow: diamond() }), 1)
    assert.deepEqual(out.reply, { ok: true, taskIds: ['Wa', 'Wb', 'Wc', 'Wd'], duplicate: false })
    assert.deepEqual(st.pendingInOrder(T0).map(t => t.id), ['Wa'])
    assert.equal(st.getTask('Wb')!.status, 'pending')
    assert.equal(st.getTask('Wb')!.workflowId, 'W')
    assert.equal(st.getTask('Wd')!.pendingReason, "waiting for steps 'b', 'c'")
    // a blocked step cannot be assigned
    assert.deepEqual(st.apply(assign('Wb', 1, 'd1'), 2).events, [])
    assert.equal(st.workflowStatus('W')!.status, 'running')
  })

  it('unblocks steps as deps complete, substituting step results (whole placeholders keep their type)', () => {
    const st = new ClusterState()
    st.apply(submit([], { workflow: diamond() }), 1)
    complete(st, 'Wa', { out: '/tmp/x.pkl' })
    assert.deepEqual(st.pendingInOrder(T0 + 1).map(t => t.id), ['Wb', 'Wc'])
    assert.deepEqual(st.getTask('Wb')!.task.payload, { from: '/tmp/x.pkl' })
    assert.deepEqual(st.getTask('Wc')!.task.payload, { all: { out: '/tmp/x.pkl' } }, 'prev = the last dependency (a)')
  })

  it('runs a diamond to completion and passes results down', () => {
    const st = new ClusterState()
    st.apply(submit([], { workflow: diamond() }), 1)
    complete(st, 'Wa', { out: 'o' })
    complete(st, 'Wb', { model: { kind: 'rf', trees: 100 } })
    assert.equal(st.getTask('Wd')!.status, 'pending')
    assert.deepEqual(st.pendingInOrder(T0 + 1).map(t => t.id), ['Wc'])
    complete(st, 'Wc', 42)
    const d = st.getTask('Wd')!
    assert.deepEqual(d.task.payload, { model: { kind: 'rf', trees: 100 }, msg: 'b said rf and c 42', prev: 42 })
    assert.equal(d.pendingReason, undefined)
    complete(st, 'Wd', 'done')
    const ws = st.workflowStatus('W')!
    assert.equal(ws.status, 'completed')
    assert.deepEqual(ws.steps.map(s => [s.name, s.status]), [['a', 'completed'], ['b', 'completed'], ['c', 'completed'], ['d', 'completed']])
  })

  it('a step that fails for good cancels its dependants and fails the workflow; other branches go on', () => {
    const st = new ClusterState()
    st.apply(submit([], { workflow: diamond() }), 1)
    complete(st, 'Wa', {})
    st.apply(assign('Wb', 1, 'd1', T0 + 2), st.appliedIndex + 1)
    const out = st.apply(finished(result('Wb', 1, 'd1', 'failed', { error: { type: 'invalid_payload', message: 'no' } })), st.appliedIndex + 1)
    assert.equal(st.getTask('Wd')!.status, 'cancelled')
    assert.match(st.getTask('Wd')!.error!.message, /dependency 'b' failed/)
    assert.ok(out.events.some(e => e.kind === 'error' && e.taskId === 'Wd' && e.status === 'cancelled'))
    assert.equal(st.getTask('Wc')!.status, 'pending', 'c does not depend on b')
    assert.equal(st.workflowStatus('W')!.status, 'failed')
    assert.equal(st.readySize, 1)
  })

  it('cancelling a step cancels what depends on it: the workflow is cancelled', () => {
    const st = new ClusterState()
    st.apply(submit([], { workflow: diamond() }), 1)
    st.apply({ type: 'cancel', at: T0, taskId: 'Wa', principal: 'alice' }, 2)
    assert.deepEqual(st.workflowStatus('W')!.steps.map(s => s.status), ['cancelled', 'cancelled', 'cancelled', 'cancelled'])
    assert.equal(st.workflowStatus('W')!.status, 'cancelled')
    assert.equal(st.readySize, 0)
  })

  it('a failed-over step points at its clone; the clone\'s completion unblocks dependants', () => {
    const st = new ClusterState()
    st.apply(submit([], { workflow: diamond() }), 1)
    run(st, [assign('Wa', 1, 'dead'), { type: 'deviceDown', at: T0 + 5, deviceId: 'dead' }])
    const ws = st.workflowStatus('W')!
    assert.equal(ws.steps[0].taskId, 'Wa-f1')
    assert.equal(ws.status, 'running')
    assert.equal(st.getTask('Wb')!.status, 'pending')
    complete(st, 'Wa-f1', { out: 'from-clone' }, 'd2')
    assert.deepEqual(st.getTask('Wb')!.task.payload, { from: 'from-clone' })
    assert.deepEqual(st.pendingInOrder(T0 + 10).map(t => t.id), ['Wb', 'Wc'])
  })

  it('retries inside a workflow keep the step; the dependants wait for the retry', () => {
    const st = new ClusterState()
    st.apply(submit([], { workflow: diamond() }), 1)
    run(st, [assign('Wa', 1, 'd1'), finished(result('Wa', 1, 'd1', 'failed', { error: { type: 'network_error', message: 'x' } }))])
    assert.equal(st.getTask('Wa')!.status, 'pending')
    assert.equal(st.workflowStatus('W')!.status, 'running')
    st.apply(assign('Wa', 2, 'd1', T0 + 60_000), st.appliedIndex + 1)
    st.apply(finished(result('Wa', 2, 'd1', 'completed', { result: { out: 'z' } })), st.appliedIndex + 1)
    assert.deepEqual(st.getTask('Wb')!.task.payload, { from: 'z' })
  })

  it('rejects bad workflows with an error naming the step, and records nothing', () => {
    const st = new ClusterState()
    const cyc: WorkflowInfo = {
      id: 'C', name: 'c',
      steps: [
        { name: 'x', task: task('x'), dependsOn: ['z'] },
        { name: 'y', task: task('y'), dependsOn: ['x'] },
        { name: 'z', task: task('z'), dependsOn: ['y'] }
      ]
    }
    const out = st.apply(submit([], { workflow: cyc }), 1)
    assert.equal(out.reply?.ok, false)
    assert.match(out.reply?.ok === false ? out.reply.error.message : '', /cycle: .*x.*y.*z|cycle: .*z.*y.*x/)
    const unknown = st.apply(submit([], { workflow: { id: 'U', name: 'u', steps: [{ name: 'p', task: task('p'), dependsOn: ['ghost'] }] } }), 2)
    assert.match(unknown.reply?.ok === false ? unknown.reply.error.message : '', /step 'p' depends on unknown step 'ghost'/)
    const dupName = st.apply(submit([], { workflow: { id: 'D', name: 'd', steps: [{ name: 'p', task: task('p'), dependsOn: [] }, { name: 'p', task: task('q'), dependsOn: [] }] } }), 3)
    assert.match(dupName.reply?.ok === false ? dupName.reply.error.message : '', /duplicate step name 'p'/)
    assert.equal(st.size, 0)
    assert.equal(st.workflowStatus('C'), undefined)
  })

  it('a workflow resubmitted with the same id and tasks is a duplicate; with other tasks a conflict', () => {
    const st = new ClusterState()
    st.apply(submit([], { workflow: diamond() }), 1)
    assert.deepEqual(st.apply(submit([], { workflow: diamond() }), 2).reply, { ok: true, taskIds: ['Wa', 'Wb', 'Wc', 'Wd'], duplicate: true })
    const other = diamond(); other.steps[0] = { ...other.steps[0], task: task('other') }
    const out = st.apply(submit([], { workflow: other }), 3)
    assert.equal(out.reply?.ok === false && out.reply.error.type, 'conflict')
    assert.equal(st.size, 4)
  })
})

describe('ClusterState: snapshot / restore', () => {
  function script (): Command[] {
    return [
      submit([task('a'), task('b', { priority: 1 }), task('c', { idempotencyKey: 'k' })], { batch: { id: 'B', name: 'bb', description: 'd' } }),
      submit([], { workflow: diamond() }),
      { type: 'setRole', at: T0, principal: 'bob', role: 'operator', by: 'local-admin' },
      assign('b', 1, 'd1'),
      assign('a', 1, 'd2'),
      { type: 'started', at: T0 + 1, taskId: 'a', attempt: 1, deviceId: 'd2' },
      finished(result('a', 1, 'd2', 'failed', { error: { type: 'network_error', message: 'n' } })),
      assign('Wa', 1, 'd1'),
      finished(result('Wa', 1, 'd1', 'completed', { result: { out: 'p' } })),
      { type: 'deviceDown', at: T0 + 20, deviceId: 'd1' },
      { type: 'cancel', at: T0 + 21, taskId: 'c', principal: 'alice' }
    ]
  }
  function more (): Command[] {
    return [
      assign('a', 2, 'd3', T0 + 10_000),
      assign('b-f1', 1, 'd3', T0 + 10_000),
      finished(result('b-f1', 1, 'd3', 'completed', { result: 1 }), T0 + 10_001),
      assign('Wb', 1, 'd2', T0 + 10_002), assign('Wc', 1, 'd3', T0 + 10_002),
      finished([result('Wb', 1, 'd2', 'completed', { result: { model: 'm' } }), result('Wc', 1, 'd3', 'completed', { result: 3 })], T0 + 10_003),
      finished(result('a', 1, 'd2', 'completed'), T0 + 10_004), // stale
      submit([task('e')], { requestId: 'again' }),
      submit([task('e2')], { requestId: 'again' }) // duplicate request
    ]
  }
  const image = (st: ClusterState): string => JSON.stringify(st.snapshot())

  it('restore(snapshot) then more commands equals applying everything without a snapshot', () => {
    const plain = new ClusterState()
    run(plain, script())
    const snap = structuredClone(plain.snapshot())
    const restored = ClusterState.restore(snap)
    assert.equal(image(restored), image(plain))
    assert.deepEqual(restored.counts, plain.counts)
    const extra = more()
    const outA = run(plain, extra)
    const outB = run(restored, extra)
    assert.deepEqual(outB, outA)
    assert.equal(image(restored), image(plain))
    assert.deepEqual(restored.pendingInOrder(T0 + 20_000).map(t => t.id), plain.pendingInOrder(T0 + 20_000).map(t => t.id))
    assert.deepEqual(restored.workflowStatus('W'), plain.workflowStatus('W'))
    assert.deepEqual(restored.batchProgress('B'), plain.batchProgress('B'))
    assert.equal(restored.roleOf('bob'), 'operator')
    assert.equal(plain.getTask('Wd')!.status, 'pending')
    assert.deepEqual(plain.getTask('Wd')!.task.payload, restored.getTask('Wd')!.task.payload)
  })

  it('survives a msgpackr round trip', async () => {
    const { pack, unpack } = await import('msgpackr')
    const plain = new ClusterState()
    run(plain, script())
    const restored = ClusterState.restore(unpack(pack(plain.snapshot())))
    run(plain, more()); run(restored, more())
    assert.equal(image(restored), image(plain))
  })

  it('two nodes applying the same log end identical (determinism)', () => {
    const a = new ClusterState(); const b = new ClusterState()
    const log = [...script(), ...more()]
    run(a, log); run(b, log)
    assert.equal(image(a), image(b))
  })
})
