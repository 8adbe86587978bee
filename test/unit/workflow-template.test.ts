import assert from 'node:assert/strict'
import { TaskTemplate, InvalidTemplateError } from '../../src/sched/template.js'
import { InvalidWorkflowError } from '../../src/sched/workflow.js'
import { InvalidTaskSpecError } from '../../src/sched/errors.js'
import { ClusterState } from '../../src/sched/state-machine.js'
import { mulberry32 } from '../../src/sched/rng.js'
import { isValidTaskId } from '../../src/sched/ids.js'
import { T0 } from './state-fixtures.js'
import { SEED_ML_TEMPLATE, SEED_ML_VARS } from '../fixtures/workflow/ml-template.js'

/** The seed's ML template, verbatim (snake_case, Python True → true), from the shared fixture. */
function mlTemplate (): TaskTemplate {
  return new TaskTemplate(structuredClone(SEED_ML_TEMPLATE))
}
const SEED_VARS = structuredClone(SEED_ML_VARS)
const ctx = (): { now: number, rng: () => number } => ({ now: T0, rng: mulberry32(7) })

describe('TaskTemplate', () => {
  it('instantiates the seed\'s ML template: typed values, a two-step chain', () => {
    const tpl = mlTemplate()
    assert.deepEqual(tpl.variables(), ['input_data', 'processed_data', 'model_type', 'hyperparams'])
    const wf = tpl.instantiate(SEED_VARS, ctx())
    assert.equal(wf.name, '机器学习训练')
    assert.ok(isValidTaskId(wf.id))
    assert.deepEqual(wf.steps.map(s => [s.name, s.dependsOn]), [['step1', []], ['step2', ['step1']]])
    const [pre, train] = wf.steps.map(s => s.task)
    assert.equal(pre.taskType, 'data_preprocessing')
    assert.deepEqual(pre.payload, { input_path: '/data/training_set.csv', output_path: '/tmp/processed.pkl' })
    assert.equal(pre.requirements.minMemoryGb, 8)
    assert.deepEqual(train.payload, { data_path: '/tmp/processed.pkl', model_type: 'random_forest', hyperparameters: { n_estimators: 100 } })
    assert.equal(typeof (train.payload as { hyperparameters: unknown }).hyperparameters, 'object', 'hyperparams stays an object')
    assert.equal(train.requirements.minCpuCores, 4)
    assert.equal(train.requirements.requiresGpu, true)
    assert.equal(pre.workflowId, wf.id)
    assert.notEqual(pre.id, train.id)
  })

  it('the instantiated workflow runs in the state machine in order', () => {
    const wf = mlTemplate().instantiate(SEED_VARS, ctx())
    const st = new ClusterState()
    const out = st.apply({ type: 'submit', requestId: 'q', principal: 'alice', at: T0, tasks: [], workflow: wf }, 1)
    assert.equal(out.reply?.ok, true)
    const [a, b] = wf.steps.map(s => s.task.id)
    assert.deepEqual(st.pendingInOrder(T0).map(t => t.id), [a])
    st.apply({ type: 'assign', at: T0, assignments: [{ taskId: a, attempt: 1, deviceId: 'd' }] }, 2)
    st.apply({ type: 'finished', at: T0, results: [{ taskId: a, attempt: 1, deviceId: 'd', status: 'completed', result: 'ok', startedAt: T0, finishedAt: T0 }] }, 3)
    assert.deepEqual(st.pendingInOrder(T0).map(t => t.id), [b])
  })

  it('a missing variable is an error naming it', () => {
    const { hyperparams: _h, ...partial } = SEED_VARS
    assert.throws(() => mlTemplate().instantiate(partial, ctx()), (e: unknown) => {
      assert.ok(e instanceof InvalidTemplateError)
      assert.equal(e.field, 'vars.hyperparams')
      assert.match(e.message, /missing template variable 'hyperparams'/)
      assert.equal(e.type, 'invalid_payload')
      return true
    })
  })

  it('interpolates inside longer strings (objects as JSON) and leaves step-result refs alone', () => {
    const tpl = new TaskTemplate({
      name: 't',
      tasks: [
        { name: 'get', task_type: 'echo', payload: { msg: 'run {{n}} of {{cfg}} at {{path}}/x' } },
        { name: 'use', task_type: 'echo', payload: { v: '{{steps.get.result.value}}', p: '{{prev.result}}', n: '{{n}}' } }
      ]
    })
    const wf = tpl.instantiate({ n: 3, cfg: { a: 1 }, path: '/tmp' }, ctx())
    assert.deepEqual(wf.steps[0].task.payload, { msg: 'run 3 of {"a":1} at /tmp/x' })
    assert.deepEqual(wf.steps[1].task.payload, { v: '{{steps.get.result.value}}', p: '{{prev.result}}', n: 3 })
    assert.deepEqual(wf.steps.map(s => s.name), ['get', 'use'])
  })

  it('honours declared depends_on (parallel steps) and rejects bad graphs naming the step', () => {
    const tpl = new TaskTemplate({
      name: 'fan',
      tasks: [
        { name: 'a', task_type: 'echo' },
        { name: 'b', task_type: 'echo', depends_on: ['a'] },
        { name: 'c', task_type: 'echo', depends_on: ['a'] },
        { name: 'd', task_type: 'echo', dependsOn: ['b', 'c'] }
      ]
    })
    const wf = tpl.instantiate({}, ctx())
    assert.deepEqual(wf.steps.map(s => s.dependsOn), [[], ['a'], ['a'], ['b', 'c']])
    const bad = new TaskTemplate({ name: 'x', tasks: [{ name: 'a', task_type: 'echo', depends_on: ['nope'] }] })
    assert.throws(() => bad.instantiate({}, ctx()), (e: unknown) => e instanceof InvalidWorkflowError && e.step === 'a' && /unknown step 'nope'/.test(e.message))
  })

  it('a bad task spec is an InvalidTaskSpecError naming the field', () => {
    const tpl = new TaskTemplate({ name: 'x', tasks: [{ task_type: 'echo', requirements: { min_cpu_cores: '{{cores}}' } }] })
    assert.throws(() => tpl.instantiate({ cores: 'many' }, ctx()), (e: unknown) => e instanceof InvalidTaskSpecError && /min_cpu_cores/.test(e.field))
  })

  it('validates the template shape', () => {
    assert.throws(() => new TaskTemplate({ name: '', tasks: [{}] }), /template.name/)
    assert.throws(() => new TaskTemplate({ name: 'x', tasks: [] }), /template.tasks/)
    assert.throws(() => TaskTemplate.fromJSON({ name: 'x', tasks: [3] }), /tasks\[0\]/)
  })
})
