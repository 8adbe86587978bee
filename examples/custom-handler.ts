// Seed "自定义任务类型": register a handler on a running node and submit tasks of its type.
// Run: npx tsx examples/custom-handler.ts
import { Task, type ClusterNode, type TaskRegistry } from '../src/index.js'
import { FibonacciTaskHandler } from './fibonacci-handler.js'
import { runIfMain, startDemoNode } from './_node.js'

export async function customHandler (node: ClusterNode): Promise<number> {
  // node.registry is the node's TaskRegistry (typed `unknown` on ClusterNode, hence the cast).
  // Registered objects run inline in the node process; --handlers modules run in a child process.
  const registry = node.registry as TaskRegistry
  if (!registry.has('fibonacci')) registry.register(new FibonacciTaskHandler())

  // the node advertises the new type in its next bid (about a second); until then the task waits
  const id = await node.scheduler.submitTask(new Task({ taskType: 'fibonacci', payload: { n: 20 } }))
  const rec = await node.scheduler.waitForResult(id, { timeoutMs: 30_000 })
  if (rec.status !== 'completed') throw new Error(`fibonacci ${rec.status}: ${rec.error?.message}`)
  const out = rec.result as { input: number, result: number }
  console.log(`fib(${out.input}) = ${out.result} on ${rec.deviceId}`)   // fib(20) = 6765
  return out.result
}

runIfMain(import.meta.url, async () => {
  const node = await startDemoNode()
  try { await customHandler(node) } finally { await node.stopAndClean() }
})
