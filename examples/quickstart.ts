// Seed "快速开始": a plain task, a task with requirements, a task for a mobile device.
// Run: npx tsx examples/quickstart.ts
import { Task, TaskPriority, TaskRequirements, type ClusterNode } from '../src/index.js'
import { runIfMain, startDemoNode } from './_node.js'

export async function quickstart (node: ClusterNode): Promise<void> {
  const scheduler = node.scheduler

  // 1. a simple task
  const task = new Task({
    taskType: 'echo',
    payload: { message: 'Hello World!' },
    priority: TaskPriority.NORMAL
  })
  const taskId = await scheduler.submitTask(task)
  const record = await scheduler.waitForResult(taskId, { timeoutMs: 30_000 })
  console.log(record.status, record.result)              // completed { message: 'Hello World!' }

  // 2. a task with hard requirements (the seed's snake_case works too: { min_cpu_cores: 4, ... })
  const computeTask = new Task({
    taskType: 'python_eval',
    payload: { expression: 'sum(range(1000000))' },
    requirements: new TaskRequirements({
      minCpuCores: 1,
      minMemoryGb: 0.5,
      requiredPlatform: 'linux',
      timeoutSeconds: 60
    })
  })
  console.log('python_eval task', computeTask.id, computeTask.requirements.timeoutSeconds)

  // 3. a task only a phone can run: it stays pending, with a pendingReason, until one joins
  const mobileTask = new Task({
    task_type: 'system_info',
    payload: {},
    requirements: { required_role: 'mobile', required_platform: 'android' }
  })
  const mobileId = await scheduler.submitTask(mobileTask)
  let pending = await scheduler.getTaskStatus(mobileId)
  for (let i = 0; i < 20 && pending?.pendingReason === undefined; i++) {   // the leader fills it in on its next pass
    await new Promise(resolve => setTimeout(resolve, 100))
    pending = await scheduler.getTaskStatus(mobileId)
  }
  console.log(pending?.status, pending?.pendingReason)   // pending, e.g. "no device meets: ... required_role: needs mobile ..."
  await scheduler.cancelTask(mobileId)
}

runIfMain(import.meta.url, async () => {
  const node = await startDemoNode()
  try { await quickstart(node) } finally { await node.stopAndClean() }
})
