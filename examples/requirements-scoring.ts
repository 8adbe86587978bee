// Seed "任务要求和调度": every TaskRequirements field, the hard filter (matchRequirements) and the
// weighted score (scoreDevice / rankDevices) the leader uses. Pure: no node needed.
// Run: npx tsx examples/requirements-scoring.ts
import {
  TaskRequirements, matchRequirements, mulberry32, parseTaskSpec, rankDevices, scoreDevice, type DeviceBid
} from '../src/index.js'
import { runIfMain } from './_node.js'

export const requirements = new TaskRequirements({
  // hardware
  minCpuCores: 2,            // min_cpu_cores
  minMemoryGb: 4,            // min_memory_gb
  minStorageGb: 10,          // min_storage_gb (free space)
  // platform
  requiredPlatform: 'linux', // linux | android | windows | macos
  requiredArch: 'x64',       // Node's os.arch() names: x64, arm64, arm, ...
  requiredRole: 'compute',   // compute | mobile | storage
  // only devices at most this busy right now (percent)
  maxCpuUsage: 80,
  maxMemoryUsage: 70,
  // execution limits (not device properties)
  timeoutSeconds: 300,
  maxRetries: 3,
  // network
  requiresInternet: false,
  bandwidthMbps: 0,
  // special
  requiresGpu: false,
  requiresSensors: [],       // e.g. ['gps', 'camera']
  exclusive: false,          // true: run alone on an otherwise idle device
  excludeDevices: []         // peer ids never to use (failover clones add the dead device here)
})

/** A device as the leader sees it: its gossiped bid (capabilities + load). */
export function device (nodeId: string, over: Partial<DeviceBid> = {}): DeviceBid {
  return {
    nodeId, name: nodeId, incarnation: 1, seq: 1, role: 'compute', platform: 'linux', arch: 'x64',
    cpuCores: 4, memoryGb: 8, storageGb: 100, gpu: false, sensors: [], internet: true, bandwidthMbps: 100,
    taskTypes: ['echo', 'python_eval'], permissions: ['read_files', 'write_files'],
    sandbox: { network: true, memory: true, cpu: true, filesystem: true },
    cpuUsage: 10, memoryUsage: 30, memoryUsedGb: 2.4, activeTasks: 0, maxConcurrentTasks: 4, latencyMs: 0,
    ...over
  }
}

export function scoring (): Array<{ name: string, score: number }> {
  const task = parseTaskSpec({ task_type: 'python_eval', payload: { expression: '2 + 2' }, requirements }, { now: Date.now(), rng: mulberry32(1) })
  const idle = device('old-laptop')
  const busy = device('busy-desktop', { cpuUsage: 75, activeTasks: 3 })
  const phone = device('phone', { role: 'mobile', platform: 'android', arch: 'arm64', cpuCores: 8, memoryGb: 4, memoryUsedGb: 3 })

  // hard filter: every unmet requirement, in words (this is what a pending task's pendingReason shows)
  console.log(matchRequirements(phone, task))
  // → { ok: false, unmet: ['required_platform: needs linux, device is android', 'required_arch: ...', 'required_role: ...', ...] }

  // score = 0.4·free CPU + 0.3·free memory (vs max(min_memory_gb, 1 GB)) + 0.2·free slots + 0.1·latency
  console.log(scoreDevice(idle, task.requirements).toFixed(3), scoreDevice(busy, task.requirements).toFixed(3))

  // the leader ranks the devices that pass the filter, best first (ties: smaller peer id)
  return rankDevices([idle, busy, phone], task).map(r => ({ name: r.device.name, score: r.score }))
}

runIfMain(import.meta.url, async () => { console.log(scoring()) })
