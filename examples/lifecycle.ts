// Seed "任务生命周期" and "实时监控"/"性能指标": statuses, lifecycle hooks, polling a task's status
// with progress and resource usage, the active tasks, and the metrics of a period.
// Run: npx tsx examples/lifecycle.ts
import { TaskStatus, TERMINAL_STATUSES, type ClusterNode, type TaskLifecycleHandler } from '../src/index.js'
import { runIfMain, startDemoNode } from './_node.js'

/** The seed's TaskLifecycleHandler: every method optional. Hooks run on every node, in log order. */
export function loggingHooks (lines: string[]): TaskLifecycleHandler {
  return {
    onSubmit: task => { lines.push(`task ${task.id} submitted`) },
    onSchedule: (task, deviceId) => { lines.push(`task ${task.id} scheduled on ${deviceId}`) },
    onStart: task => { lines.push(`task ${task.id} started`) },            // only tasks still running after 100 ms
    onProgress: (task, progress) => { lines.push(`task ${task.id} progress ${progress}%`) },
    onComplete: (task, result) => { lines.push(`task ${task.id} completed: ${JSON.stringify(result)}`) },
    onError: (task, error) => { lines.push(`task ${task.id} error ${error.type}: ${error.message}`) }
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** The seed's monitor_task_execution: poll until the task is final (bounded by timeoutMs). */
export async function monitorTaskExecution (node: ClusterNode, taskId: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const status = await node.scheduler.getTaskStatus(taskId)
    if (status === undefined) throw new Error(`no task ${taskId}`)
    console.log(`task ${taskId} status: ${status.status}`)
    if (status.status === TaskStatus.RUNNING) {
      console.log(`progress: ${status.progress}%`)
      if (status.resourceUsage !== undefined) {
        console.log(`cpu: ${status.resourceUsage.cpu.toFixed(1)}%  memory: ${status.resourceUsage.memory.toFixed(0)} MB`)
      }
    }
    if (TERMINAL_STATUSES.has(status.status) && status.replacedBy === undefined) return status.status
    await sleep(500)
  }
  throw new Error(`task ${taskId} still not final after ${timeoutMs} ms`)
}

export async function lifecycle (node: ClusterNode): Promise<string[]> {
  const lines: string[] = []
  const off = node.scheduler.addLifecycleHandler(loggingHooks(lines))
  try {
    const id = await node.scheduler.submitTask({ task_type: 'sleep', payload: { duration: 1.5 } })

    // seed monitor_all_tasks: what is queued or running, and where
    for (const t of await node.scheduler.getActiveTasks()) console.log(`task ${t.id}: ${t.status} on ${t.deviceId ?? '-'}`)

    console.log('final:', await monitorTaskExecution(node, id))
  } finally {
    off()
  }

  // seed get_task_metrics(period="24h"): from this node's task history (history.db)
  const m = await node.scheduler.getTaskMetrics({ period: '24h' })
  console.log(`total ${m.totalTasks}, success ${m.successRate}%, avg ${m.avgExecutionTime.toFixed(2)} s, utilization ${m.deviceUtilization}%`)
  for (const [deviceId, d] of Object.entries(m.byDevice)) {
    console.log(`device ${deviceId}: completed ${d.completed}, failed ${d.failed}, avg response ${d.avgResponseTime} ms`)
  }
  return lines
}

runIfMain(import.meta.url, async () => {
  const node = await startDemoNode()
  try { console.log((await lifecycle(node)).join('\n')) } finally { await node.stopAndClean() }
})
