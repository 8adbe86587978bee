// Seed "任务模板和工作流": a TaskTemplate with {{variables}}, instantiated into a workflow and
// submitted; the cluster runs each step when its dependencies have completed.
// Run: npx tsx examples/templates.ts
import { TaskTemplate, type ClusterNode, type WorkflowStatus } from '../src/index.js'
import { runIfMain, startDemoNode } from './_node.js'

export const mlTemplate = new TaskTemplate({
  name: 'ML training',
  description: 'standard model training pipeline',
  tasks: [
    {
      name: 'preprocess',                       // step name (default step1, step2, ...)
      task_type: 'data_preprocessing',
      payload: { input_path: '{{input_data}}', output_path: '{{processed_data}}' },
      requirements: { min_memory_gb: 8 }
    },
    {
      name: 'train',                            // depends on the previous step unless depends_on says otherwise
      task_type: 'model_training',
      payload: {
        data_path: '{{processed_data}}',
        model_type: '{{model_type}}',
        hyperparameters: '{{hyperparams}}'      // a whole-string placeholder keeps the value's type (an object here)
      },
      requirements: { min_cpu_cores: 4, requires_gpu: true }
    }
  ]
})

/** instantiate() checks every variable (a missing one is an InvalidTemplateError naming it). */
export function instantiateMl (): ReturnType<TaskTemplate['instantiate']> {
  return mlTemplate.instantiate({
    input_data: '/data/training_set.csv',
    processed_data: '/tmp/processed.pkl',
    model_type: 'random_forest',
    hyperparams: { n_estimators: 100 }
  })
}

/** A runnable two-step workflow with built-in types: echo, then python_eval using its result. */
export const sumTemplate = new TaskTemplate({
  name: 'sum',
  tasks: [
    { name: 'fetch', task_type: 'echo', payload: { n: '{{n}}' } },
    { name: 'sum', task_type: 'python_eval', payload: { expression: 'sum(range({{steps.fetch.result.n}}))' } }
  ]
})

export async function runWorkflow (node: ClusterNode): Promise<WorkflowStatus> {
  const wf = instantiateMl()
  console.log(wf.steps.map(s => `${s.name} <- [${s.dependsOn.join(', ')}]`), wf.steps[1]!.task.payload)

  const { id, taskIds } = await node.scheduler.submitWorkflow(sumTemplate.instantiate({ n: 10 }))
  const last = await node.scheduler.waitForResult(taskIds[taskIds.length - 1]!, { timeoutMs: 60_000 })
  const status = await node.scheduler.getWorkflowStatus(id)
  console.log(status.status, status.steps.map(s => `${s.name}:${s.status}`), last.result)   // completed [...] 45
  return status
}

runIfMain(import.meta.url, async () => {
  const node = await startDemoNode()
  try { await runWorkflow(node) } finally { await node.stopAndClean() }
})
