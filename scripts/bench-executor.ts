// Per-task executor overhead: echo inline (in the node process) vs echo through a child process
// (the isolation every custom handler gets). Prints JSON.
//   npx tsx scripts/bench-executor.ts [--inline N] [--child N] [--concurrency C]

import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { TaskExecutor } from '../src/node/executor/executor.js'
import { TaskRegistry } from '../src/node/handlers/registry.js'
import type { TaskData } from '../src/sched/types.js'

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}

const INLINE_N = arg('inline', 20_000)
const CHILD_N = arg('child', 20)
const CONCURRENCY = arg('concurrency', 2)

function task (id: number, taskType: string): TaskData {
  return {
    id: `b${id}`,
    taskType,
    payload: { message: 'hello', n: id },
    priority: 3,
    requirements: { minCpuCores: 1, minMemoryGb: 0, minStorageGb: 0, timeoutSeconds: 30, maxRetries: 0, requiresInternet: false, bandwidthMbps: 0, requiresGpu: false, requiresSensors: [], exclusive: false, excludeDevices: [] },
    requiredPermissions: [],
    retryCount: 0,
    createdAt: 0
  }
}

async function measure (ex: TaskExecutor, taskType: string, n: number, concurrency: number): Promise<{ tasks: number, concurrency: number, usPerTask: number, tasksPerSecond: number, failed: number }> {
  let next = 0
  let failed = 0
  const t0 = process.hrtime.bigint()
  const lane = async (): Promise<void> => {
    while (next < n) {
      const out = await ex.execute(task(next++, taskType))
      if (out.status !== 'completed') failed++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  const ns = Number(process.hrtime.bigint() - t0)
  return { tasks: n, concurrency, usPerTask: Math.round(ns / 1000 / n * 10) / 10, tasksPerSecond: Math.round(n / (ns / 1e9)), failed }
}

/** bare `node -e 0` start-up, the floor under any child-process design */
function bareNodeSpawnUs (n: number): number {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) spawnSync(process.execPath, ['-e', '0'])
  return Math.round(Number(process.hrtime.bigint() - t0) / 1000 / n)
}

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rc-bench-'))
  const mod = join(dir, 'echo-process.mjs')
  writeFileSync(mod, "export default { taskType: 'echo_process', isolation: 'process', execute (p) { return p } }\n")
  const registry = new TaskRegistry()
  await registry.loadModule(mod)
  const ex = new TaskExecutor({ registry, maxConcurrentTasks: 64, logLevel: 'silent' })
  try {
    await measure(ex, 'echo', 2000, 1) // warm-up (JIT)
    const inlineSeq = await measure(ex, 'echo', INLINE_N, 1)
    const inlinePar = await measure(ex, 'echo', INLINE_N, 64)
    await measure(ex, 'echo_process', 2, 1)
    const childSeq = await measure(ex, 'echo_process', CHILD_N, 1)
    const childPar = await measure(ex, 'echo_process', CHILD_N, CONCURRENCY)
    console.log(JSON.stringify({
      node: process.version,
      cpus: (await import('node:os')).cpus().length,
      childEntry: import.meta.url.endsWith('.ts') ? 'ts via tsx loader (npx tsx)' : 'compiled js',
      sandbox: ex.capabilities().sandbox,
      inline: { sequential: inlineSeq, parallel: inlinePar },
      childPerTask: { sequential: childSeq, parallel: childPar },
      bareNodeSpawnUs: bareNodeSpawnUs(5)
    }, null, 2))
  } finally {
    await ex.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
