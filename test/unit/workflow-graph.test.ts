import assert from 'node:assert/strict'
import { checkWorkflow, validateWorkflow, topologicalOrder, substituteStepRefs, hasStepRefs, chainSteps, InvalidWorkflowError } from '../../src/sched/workflow.js'
import { TaskBatch, ParallelTaskGroup, groupOutcome, InvalidBatchError } from '../../src/sched/batch.js'
import { TaskChain, chainOutcome } from '../../src/sched/chain.js'
import { ClusterState } from '../../src/sched/state-machine.js'
import type { TaskRecord } from '../../src/sched/commands.js'
import { T0, task } from './state-fixtures.js'

const step = (name: string, dependsOn: string[] = []): { name: string, task: ReturnType<typeof task>, dependsOn: string[] } => ({ name, task: task(name), dependsOn })

describe('workflow graph', () => {
  it('accepts a DAG and orders it topologically', () => {
    const steps = [step('d', ['b', 'c']), step('b', ['a']), step('a'), step('c', ['a'])]
    assert.equal(checkWorkflow({ id: 'w', name: 'w', steps }), undefined)
    assert.deepEqual(topologicalOrder(steps), ['a', 'b', 'c', 'd'])
  })

  it('names the step in every error', () => {
    const err = (steps: unknown): InvalidWorkflowError => checkWorkflow({ id: 'w', name: 'w', steps }) as InvalidWorkflowError
    assert.match(err([step('a', ['a'])]).message, /step 'a' depends on itself/)
    assert.match(err([step('a'), step('a')]).message, /duplicate step name 'a'/)
    assert.match(err([step('a', ['zz'])]).message, /step 'a' depends on unknown step 'zz'/)
    const cyc = err([step('a'), step('b', ['a', 'd']), step('c', ['b']), step('d', ['c'])])
    assert.match(cyc.message, /dependency cycle: b -> c -> d -> b|dependency cycle: (\w -> ){3}\w/)
    assert.ok(['b', 'c', 'd'].includes(cyc.step!))
    assert.match(err([]).message, /non-empty/)
    assert.match(err([{ name: 'x', task: task('x'), dependsOn: 'a' }]).message, /step 'x': dependsOn must be an array/)
    assert.throws(() => validateWorkflow({ id: 'w', name: 'w', steps: [step('a', ['a'])] }), InvalidWorkflowError)
  })

  it('handles a 10,000-step chain without deep recursion', () => {
    const steps = chainSteps(Array.from({ length: 10_000 }, (_, i) => task(`t${i}`)))
    assert.equal(checkWorkflow({ id: 'w', name: 'w', steps }), undefined)
    assert.equal(topologicalOrder(steps)!.length, 10_000)
    steps[0] = { ...steps[0], dependsOn: ['step10000'] }
    assert.match(checkWorkflow({ id: 'w', name: 'w', steps })!.message, /cycle/)
  })

  it('substitutes step results: whole placeholders keep type, inline ones interpolate', () => {
    const byName = new Map<string, unknown>([['a', { out: { path: '/x', n: 2 } }], ['b', 'text']])
    const payload = { p: '{{steps.a.result.out}}', s: 'n={{ steps.a.result.out.n }} b={{steps.b.result}}', prev: '{{prev.result}}', miss: '{{steps.zz.result}}', arr: ['{{steps.a.result.out.path}}'], keep: '{{other}}' }
    assert.equal(hasStepRefs(payload), true)
    assert.equal(hasStepRefs({ a: 'plain {{x}}' }), false)
    assert.deepEqual(substituteStepRefs(payload, { byName, prev: 'b' }), {
      p: { path: '/x', n: 2 }, s: 'n=2 b=text', prev: 'text', miss: undefined, arr: ['/x'], keep: '{{other}}'
    })
  })
})

describe('TaskBatch / ParallelTaskGroup', () => {
  it('collects tasks, stamps batchId, refuses duplicates, submits atomically', () => {
    const b = new TaskBatch({ id: 'B1', name: '数据处理批次', description: '处理1000个数据文件' })
    for (let i = 0; i < 1000; i++) b.addTask(task(`f${i}`, { payload: { file_path: `/data/file_${i}.txt` } }))
    assert.equal(b.size, 1000)
    assert.ok(b.tasks.every(t => t.batchId === 'B1'))
    assert.throws(() => b.addTask(task('f1')), InvalidBatchError)
    const { batch, tasks } = b.toSubmit()
    assert.deepEqual(batch, { id: 'B1', name: '数据处理批次', description: '处理1000个数据文件' })
    const st = new ClusterState()
    assert.equal(st.apply({ type: 'submit', requestId: 'r', principal: 'alice', at: T0, tasks, batch }, 1).reply?.ok, true)
    assert.deepEqual(st.batchProgress('B1'), { id: 'B1', name: '数据处理批次', total: 1000, completed: 0, failed: 0, running: 0, pending: 1000, cancelled: 0 })
    assert.throws(() => new TaskBatch({ id: 'E', name: 'e' }).toSubmit(), /no tasks/)
  })

  it('groupOutcome summarises latest records', () => {
    const g = new ParallelTaskGroup([task('a'), task('b')])
    const saved = TaskBatch.idGenerator
    TaskBatch.idGenerator = () => 'G1'
    try {
      const b = g.toBatch('g')
      assert.equal(b.size, 2)
      assert.equal(b.id, 'G1')
    } finally { TaskBatch.idGenerator = saved }
    const rec = (status: TaskRecord['status'], result?: unknown): TaskRecord => ({ id: 'x', taskType: 'echo', status, priority: 3, task: task('x'), attempts: [], progress: 0, createdAt: 0, submittedAt: 0, result })
    assert.deepEqual(groupOutcome([rec('completed', 1), rec('running')]), { done: false, results: [1, undefined], completed: 1, failed: 0, cancelled: 0, pending: 1 })
    assert.deepEqual(groupOutcome([rec('completed', 1), rec('failed')]), { done: true, results: [1, undefined], completed: 1, failed: 1, cancelled: 0, pending: 0 })
  })
})

describe('TaskChain', () => {
  it('builds a serial workflow whose steps read the previous result, and reads the outcome', () => {
    const chain = new TaskChain([
      task('dl', { taskType: 'download', payload: { url: 'http://example.com/data.zip' } }),
      task('ex', { taskType: 'extract', payload: { archive: '{{prev.result.file}}' } }),
      task('pr', { taskType: 'process', payload: { input_dir: 'data/' } })
    ])
    const wf = chain.toWorkflow('CH')
    assert.deepEqual(wf.steps.map(s => [s.name, s.dependsOn]), [['step1', []], ['step2', ['step1']], ['step3', ['step2']]])
    const st = new ClusterState()
    st.apply({ type: 'submit', requestId: 'r', principal: 'alice', at: T0, tasks: [], workflow: wf }, 1)
    const finish = (id: string, result: unknown): void => {
      st.apply({ type: 'assign', at: T0, assignments: [{ taskId: id, attempt: 1, deviceId: 'd' }] }, st.appliedIndex + 1)
      st.apply({ type: 'finished', at: T0, results: [{ taskId: id, attempt: 1, deviceId: 'd', status: 'completed', result, startedAt: T0, finishedAt: T0 }] }, st.appliedIndex + 1)
    }
    const latest = (): Array<TaskRecord | undefined> => st.workflowStatus('CH')!.steps.map(s => st.latest(s.taskId))
    finish('dl', { file: 'data.zip' })
    assert.deepEqual(st.getTask('ex')!.task.payload, { archive: 'data.zip' })
    assert.equal(chainOutcome(latest()).done, false)
    finish('ex', 'ok'); finish('pr', { rows: 10 })
    assert.deepEqual(chainOutcome(latest()), { done: true, ok: true, result: { rows: 10 }, results: [{ file: 'data.zip' }, 'ok', { rows: 10 }] })
  })

  it('reports the failing step', () => {
    const wf = new TaskChain([task('a'), task('b')]).toWorkflow('C2')
    const st = new ClusterState()
    st.apply({ type: 'submit', requestId: 'r', principal: 'alice', at: T0, tasks: [], workflow: wf }, 1)
    st.apply({ type: 'assign', at: T0, assignments: [{ taskId: 'a', attempt: 1, deviceId: 'd' }] }, 2)
    st.apply({ type: 'finished', at: T0, results: [{ taskId: 'a', attempt: 1, deviceId: 'd', status: 'failed', error: { type: 'invalid_payload', message: 'bad' }, startedAt: T0, finishedAt: T0 }] }, 3)
    const out = chainOutcome(st.workflowStatus('C2')!.steps.map(s => st.latest(s.taskId)))
    assert.deepEqual(out, { done: true, ok: false, results: [undefined, undefined], failedStep: 0, error: { type: 'invalid_payload', message: 'bad' } })
    assert.equal(st.workflowStatus('C2')!.status, 'failed')
  })
})
