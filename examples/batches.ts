// Seed "批量任务处理": TaskBatch with progress, ParallelTaskGroup (wait for all), TaskChain (each
// step reads the previous result).
// Run: npx tsx examples/batches.ts
import { ParallelTaskGroup, Task, TaskBatch, TaskChain, type ClusterNode } from '../src/index.js'
import { runIfMain, startDemoNode } from './_node.js'

export async function batch (node: ClusterNode, count = 20): Promise<{ completed: number, total: number }> {
  const b = new TaskBatch({ name: 'data processing batch', description: `process ${count} data files` })
  for (let i = 0; i < count; i++) {
    // seed: task_type "process_file"; echo stands in for it here
    b.addTask(new Task({ taskType: 'echo', payload: { filePath: `/data/file_${i}.txt` } }))
  }
  const { id: batchId, taskIds } = await node.scheduler.submitBatch(b)   // atomic: all or none
  await Promise.all(taskIds.map(async id => await node.scheduler.waitForResult(id, { timeoutMs: 60_000 })))
  const progress = await node.scheduler.getBatchProgress(batchId)
  console.log(`batch progress: ${progress.completed}/${progress.total} tasks completed`)
  return { completed: progress.completed, total: progress.total }
}

export async function parallelAndChain (node: ClusterNode): Promise<unknown> {
  // run side by side; waitForCompletion resolves with every task's final record, in order
  const group = new ParallelTaskGroup([
    new Task({ taskType: 'python_eval', payload: { expression: 'sum(range(10))' } }),
    new Task({ taskType: 'python_eval', payload: { expression: 'sum(range(100))' } }),
    new Task({ taskType: 'python_eval', payload: { expression: 'sum(range(1000))' } })
  ], { scheduler: node.scheduler, name: 'sums' })
  const results = await group.waitForCompletion(300_000)     // ms; GroupTimeoutError names the unfinished
  console.log(results.map(r => r.result))                    // [45, 4950, 499500]

  // one after the other; `{{prev.result...}}` is filled in from the previous step's result when the
  // step becomes runnable (`{{steps.step1.result...}}` reaches any earlier step)
  const chain = new TaskChain([
    new Task({ taskType: 'echo', payload: { archive: 'data.zip', files: 3 } }),
    new Task({ taskType: 'python_eval', payload: { expression: '{{prev.result.files}} * 10' } }),
    new Task({ taskType: 'echo', payload: { total: '{{prev.result}}' } })
  ], { scheduler: node.scheduler })
  const records = await chain.execute()                       // ChainStepError names a failed step
  const last = records[records.length - 1]!
  console.log(last.result)                                    // { total: 30 }
  return last.result
}

runIfMain(import.meta.url, async () => {
  const node = await startDemoNode()
  try {
    await batch(node)
    await parallelAndChain(node)
  } finally { await node.stopAndClean() }
})
