// Per-task executor overhead: echo inline (in the node process) vs echo through a child process
// (the isolation every custom handler gets): a warm pooled child, and a fresh child per task.
// Prints JSON.
//   npx tsx scripts/bench-executor.ts [--inline N] [--pooled N] [--fresh N] [--concurrency C] [--no-sandbox]

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
const POOLED_N = arg('pooled', 2000)
const FRESH_N = arg('fresh', 10)
const CONCURRENCY = arg('concurrency', 2)
/** --no-sandbox: no unshare/prlimit/nice, to see what the sandbox itself costs */
const SANDBOX = !process.argv.includes('--no-sandbox')

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
  const ex = new TaskExecutor({ registry, maxConcurrentTasks: 64, logLevel: 'silent', sandboxEnabled: SANDBOX })
  const fresh = new TaskExecutor({ registry, maxConcurrentTasks: 64, logLevel: 'silent', builtins: false, sandboxEnabled: SANDBOX, processPool: { reuse: false } })
  try {
    await measure(ex, 'echo', 2000, 1) // warm-up (JIT)
    const inlineSeq = await measure(ex, 'echo', INLINE_N, 1)
    const inlinePar = await measure(ex, 'echo', INLINE_N, 64)
    await measure(ex, 'echo_process', CONCURRENCY * 2, CONCURRENCY) // start the warm children
    const pooledSeq = await measure(ex, 'echo_process', POOLED_N, 1)
    const pooledPar = await measure(ex, 'echo_process', POOLED_N, CONCURRENCY)
    const freshSeq = await measure(fresh, 'echo_process', FRESH_N, 1)
    const freshPar = await measure(fresh, 'echo_process', FRESH_N, CONCURRENCY)
    console.log(JSON.stringify({
      node: process.version,
      cpus: (await import('node:os')).cpus().length,
      loadAverage1m: (await import('node:os')).loadavg()[0],
      childEntry: import.meta.url.endsWith('.ts') ? 'ts via tsx loader (npx tsx)' : 'compiled js',
      sandboxEnabled: SANDBOX,
      sandbox: ex.capabilities().sandbox,
      inline: { sequential: inlineSeq, parallel: inlinePar },
      pooledChild: { sequential: pooledSeq, parallel: pooledPar },
      freshChildPerTask: { sequential: freshSeq, parallel: freshPar },
      bareNodeSpawnUs: bareNodeSpawnUs(5)
    }, null, 2))
  } finally {
    await ex.close()
    await fresh.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
