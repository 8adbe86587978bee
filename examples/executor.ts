// Seed "执行器配置": a TaskExecutor on its own — the engine each node runs tasks in. A node builds
// one for you (slots from --max-concurrent, grants from --grant, allowed paths from --allowed-paths);
// use it directly to test handlers or to embed execution without a cluster.
// Run: npx tsx examples/executor.ts
import { Task, TaskExecutor, TaskRegistry } from '../src/index.js'
import { FibonacciTaskHandler } from './fibonacci-handler.js'
import { runIfMain } from './_node.js'

export async function executorExample (): Promise<unknown> {
  const registry = new TaskRegistry()
  registry.register(new FibonacciTaskHandler())      // built-ins are added too (builtins: true)

  const executor = new TaskExecutor({
    maxConcurrentTasks: 5,
    resourceLimits: {
      cpuPercent: 80,        // CPU share of the device for task processes (nice + cgroup where possible)
      memoryMb: 2048,        // per task (rlimit / cgroup / RSS watchdog)
      executionTime: 3600    // seconds, whatever a task asks for
    },
    sandboxEnabled: true,    // unshare --net, prlimit, nice for task processes where the OS allows
    logLevel: 'info',
    registry,
    node: { grants: ['read_files', 'write_files'], allowedPaths: [process.cwd()] }
  })
  try {
    console.log(executor.capabilities())             // { taskTypes: [...], sandbox: { network, memory, cpu, filesystem } }
    const task = new Task({ taskType: 'fibonacci', payload: { n: 25 } })
    const outcome = await executor.execute(task.toData(), {
      onProgress: (pct, usage) => { console.log(`progress ${pct}%`, usage) }
    })
    console.log(outcome.status, outcome.result)      // completed { input: 25, result: 75025, ... }
    return outcome.result
  } finally {
    await executor.close()
  }
}

runIfMain(import.meta.url, async () => { await executorExample() })
