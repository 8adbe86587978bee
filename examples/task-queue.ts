// Seed "任务队列管理": TaskQueue with priority weights, enqueue/dequeue, statistics, listing.
// This is the structure the leader keeps (inside the replicated state); use it directly for your
// own scheduling or tests. Pure: time is a parameter (ms since epoch), so it needs no node.
// Run: npx tsx examples/task-queue.ts
import { Task, TaskPriority, TaskQueue, TaskStatus } from '../src/index.js'
import { runIfMain } from './_node.js'

export function taskQueue (): { order: string[], stats: ReturnType<TaskQueue['getStatistics']> } {
  const queue = new TaskQueue({
    maxSize: 1000,                      // a full queue refuses (QueueFullError), it never drops
    priorityWeights: {                  // how fast each priority ages (see docs/guide.md)
      [TaskPriority.URGENT]: 1.0,
      [TaskPriority.HIGH]: 0.8,
      [TaskPriority.NORMAL]: 0.5,
      [TaskPriority.LOW]: 0.3,
      [TaskPriority.BACKGROUND]: 0.1
    }
  })

  const now = Date.now()
  const report = new Task({ taskType: 'echo', payload: { job: 'report' }, priority: TaskPriority.BACKGROUND })
  const resize = new Task({ taskType: 'echo', payload: { job: 'resize' } })          // NORMAL
  const alert = new Task({ taskType: 'echo', payload: { job: 'alert' } })
  queue.enqueue(report, now)
  queue.enqueue(resize, now)
  queue.enqueue(alert, now, TaskPriority.HIGH)     // the seed's enqueue(task, priority=HIGH)

  const stats = queue.getStatistics(now + 5000)
  console.log(`size ${stats.size}`, stats.byPriority, `avg wait ${stats.avgWaitTimeSeconds} s`)
  console.log('queued:', queue.listTasks({ status: TaskStatus.QUEUED }).length)

  const order: string[] = []
  for (let next = queue.dequeue(now); next !== undefined; next = queue.dequeue(now)) {
    order.push((next.payload as { job: string }).job)
  }
  console.log(order)                                // ['alert', 'resize', 'report']
  return { order, stats }
}

runIfMain(import.meta.url, async () => { taskQueue() })
