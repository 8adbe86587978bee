// Device scoring: the seed's weighted score (CPU 40 %, memory 30 %, load 20 %, latency 10 %), with
// its bugs fixed:
//  - the seed compared free CPU with a non-existent `min_cpu_usage`: we score the free fraction;
//  - it divided by `min_memory_gb`, which is 0 by default: we compare free memory with
//    max(minMemoryGb, MEMORY_REFERENCE_GB), so no division by zero and "more free memory is
//    better" up to a sensible point;
//  - it ignored the leader's own in-flight assignments: load counts them, so a burst spreads out;
//  - latency only counted below 100 ms and went negative above 1000: we clamp to [0, 1000] ms.
// Scores are in [0, 1]. Hard requirements are matchRequirements' job, not the score's.

import { meetsRequirements } from './device.js'
import type { DeviceBid, TaskData, TaskRequirementsData } from './types.js'

/** Free memory at or above this many GB earns the full memory score when the task asks for less. */
export const MEMORY_REFERENCE_GB = 1
/** Latency at or above this earns no latency score. */
export const LATENCY_CEILING_MS = 1000

export function scoreDevice (device: DeviceBid, req: TaskRequirementsData, inflight = 0): number {
  const cpuFree = (100 - clamp(device.cpuUsage, 0, 100)) / 100
  const memFreeGb = Math.max(0, device.memoryGb - device.memoryUsedGb)
  const memWanted = Math.max(req.minMemoryGb, MEMORY_REFERENCE_GB)
  const memScore = Math.min(1, memFreeGb / memWanted)
  const slots = device.maxConcurrentTasks
  const loadScore = slots > 0 ? clamp(1 - (device.activeTasks + inflight) / slots, 0, 1) : 0
  const latencyScore = 1 - clamp(device.latencyMs, 0, LATENCY_CEILING_MS) / LATENCY_CEILING_MS
  return 0.4 * cpuFree + 0.3 * memScore + 0.2 * loadScore + 0.1 * latencyScore
}

function clamp (v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v
}

export interface RankedDevice { device: DeviceBid, score: number }

/**
 * Devices that meet every requirement of `task`, best first. Ties go to the smaller nodeId (plain
 * code-unit comparison, not locale) so every leader ranks identically.
 */
export function rankDevices (
  devices: Iterable<DeviceBid>, task: TaskData, inflightByDevice: ReadonlyMap<string, number> = new Map()
): RankedDevice[] {
  const out: RankedDevice[] = []
  for (const device of devices) {
    const inflight = inflightByDevice.get(device.nodeId) ?? 0
    if (!meetsRequirements(device, task, inflight)) continue
    out.push({ device, score: scoreDevice(device, task.requirements, inflight) })
  }
  out.sort((a, b) => b.score - a.score || (a.device.nodeId < b.device.nodeId ? -1 : a.device.nodeId > b.device.nodeId ? 1 : 0))
  return out
}
