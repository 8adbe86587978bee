// Micro-benchmarks of the scheduling core: `npx tsx scripts/bench-sched.ts`. Prints JSON.
//  - queueOpsPerSec: 1e6 enqueues then 1e6 dequeues (random priorities, aging on), total ops / s;
//    also a steady-state run (queue held at ~10k, one enqueue + one dequeue per step), and a bare
//    Map set+delete of 1e6 ids as a yardstick for how loaded the machine is.
//  - rank1000DevicesMicros: median µs for rankDevices over 1,000 random devices (match + score + sort).

import { performance } from 'node:perf_hooks'
import { TaskQueue } from '../src/sched/queue.js'
import { rankDevices } from '../src/sched/score.js'
import { mulberry32 } from '../src/sched/rng.js'
import { parseTaskSpec } from '../src/sched/task.js'
import type { DeviceBid } from '../src/sched/types.js'

interface Item { id: string, priority: number }

function benchQueueBulk (n: number): number {
  const rng = mulberry32(1)
  const items: Item[] = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, priority: 1 + Math.floor(rng() * 5) }))
  const q = new TaskQueue<Item>({ maxSize: n })
  const t0 = performance.now()
  let now = 1_700_000_000_000
  for (let i = 0; i < n; i++) q.enqueue(items[i], now++)
  let got = 0
  while (q.dequeue(now++) !== undefined) got++
  const ms = performance.now() - t0
  if (got !== n) throw new Error(`lost tasks: ${got}/${n}`)
  return (2 * n) / (ms / 1000)
}

/** The same ids through a bare Map (set + delete): the floor any id-indexed queue pays; shows machine load. */
function benchMapBaseline (n: number): number {
  const ids = Array.from({ length: n }, (_, i) => `m${i}`)
  const m = new Map<string, number>()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) m.set(ids[i], i)
  for (let i = 0; i < n; i++) m.delete(ids[i])
  return (2 * n) / ((performance.now() - t0) / 1000)
}

function benchQueueSteady (n: number, depth: number): number {
  const rng = mulberry32(2)
  const items: Item[] = Array.from({ length: n + depth }, (_, i) => ({ id: `s${i}`, priority: 1 + Math.floor(rng() * 5) }))
  const q = new TaskQueue<Item>({ maxSize: depth + 1 })
  let now = 1_700_000_000_000
  for (let i = 0; i < depth; i++) q.enqueue(items[i], now)
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    q.enqueue(items[depth + i], now += 1)
    q.dequeue(now)
  }
  const ms = performance.now() - t0
  return (2 * n) / (ms / 1000)
}

function randomDevices (n: number): DeviceBid[] {
  const rng = mulberry32(3)
  const platforms = ['linux', 'android', 'windows', 'macos'] as const
  return Array.from({ length: n }, (_, i) => ({
    nodeId: `12D3KooW${i.toString(36).padStart(8, '0')}`, name: `dev${i}`, incarnation: 1, seq: 1,
    role: rng() < 0.3 ? 'mobile' : 'compute', platform: platforms[Math.floor(rng() * 4)], arch: rng() < 0.5 ? 'x86_64' : 'arm64',
    cpuCores: 1 + Math.floor(rng() * 8), memoryGb: 1 + Math.floor(rng() * 16), storageGb: rng() * 200, gpu: rng() < 0.1,
    sensors: rng() < 0.3 ? ['gps', 'camera'] : [], internet: rng() < 0.9, bandwidthMbps: rng() * 100,
    taskTypes: ['echo', 'sleep', 'system_info', 'python_eval'], permissions: ['read_files', 'write_files'],
    sandbox: { network: true, memory: true, cpu: true, filesystem: true }, cpuUsage: rng() * 100, memoryUsage: rng() * 100,
    memoryUsedGb: rng() * 4, activeTasks: Math.floor(rng() * 4), maxConcurrentTasks: 4, latencyMs: rng() * 200
  }))
}

function benchRank (runs: number): { medianMicros: number, eligible: number } {
  const devices = randomDevices(1000)
  const task = parseTaskSpec({ task_type: 'python_eval', requirements: { min_cpu_cores: 2, min_memory_gb: 2 } }, { now: 1, rng: mulberry32(4) })
  const inflight = new Map<string, number>(devices.slice(0, 100).map(d => [d.nodeId, 1]))
  for (let i = 0; i < 200; i++) rankDevices(devices, task, inflight) // warm up the JIT
  const times: number[] = []
  let eligible = 0
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    eligible = rankDevices(devices, task, inflight).length
    times.push((performance.now() - t0) * 1000)
  }
  times.sort((a, b) => a - b)
  return { medianMicros: times[Math.floor(times.length / 2)], eligible }
}

benchQueueBulk(100_000) // warm up
const queueOpsPerSec = benchQueueBulk(1_000_000)
const queueSteadyOpsPerSec = benchQueueSteady(1_000_000, 10_000)
const mapBaselineOpsPerSec = benchMapBaseline(1_000_000)
const rank = benchRank(500)
console.log(JSON.stringify({
  queueOpsPerSec: Math.round(queueOpsPerSec),
  queueSteadyOpsPerSec: Math.round(queueSteadyOpsPerSec),
  mapBaselineOpsPerSec: Math.round(mapBaselineOpsPerSec),
  rank1000DevicesMicros: Math.round(rank.medianMicros),
  rankEligibleDevices: rank.eligible,
  node: process.version
}, null, 2))
