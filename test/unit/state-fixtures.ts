// Shared builders for the state-machine and scheduler unit tests (not a test file itself).
import { defaultRequirements } from '../../src/sched/requirements.js'
import type { DeviceBid, TaskData, TaskRequirementsData } from '../../src/sched/types.js'
import type { AttemptResult, Command } from '../../src/sched/commands.js'
import { ClusterState } from '../../src/sched/state-machine.js'

export const T0 = 1_700_000_000_000

export function task (id: string, over: Partial<TaskData> & { req?: Partial<TaskRequirementsData> } = {}): TaskData {
  const { req, ...rest } = over
  return {
    id, taskType: 'echo', payload: { n: id }, priority: 3,
    requirements: { ...defaultRequirements(), ...req },
    requiredPermissions: [], retryCount: 0, createdAt: T0, ...rest
  }
}

let reqSeq = 0
export function submit (tasks: TaskData[], extra: Partial<Extract<Command, { type: 'submit' }>> = {}): Command {
  return { type: 'submit', requestId: `r${++reqSeq}`, principal: 'alice', at: T0, tasks, ...extra }
}

export function assign (taskId: string, attempt: number, deviceId: string, at = T0): Command {
  return { type: 'assign', at, assignments: [{ taskId, attempt, deviceId }] }
}

export function result (taskId: string, attempt: number, deviceId: string, status: AttemptResult['status'], extra: Partial<AttemptResult> = {}): AttemptResult {
  return { taskId, attempt, deviceId, status, startedAt: T0, finishedAt: T0 + 10, ...extra }
}

export function finished (r: AttemptResult | AttemptResult[], at = T0 + 10): Command {
  return { type: 'finished', at, results: Array.isArray(r) ? r : [r] }
}

/** Applies commands in order with increasing indexes; returns every outcome. */
export function run (st: ClusterState, cmds: Command[]): ReturnType<ClusterState['apply']>[] {
  return cmds.map(c => st.apply(c, st.appliedIndex + 1))
}

export function bid (nodeId: string, over: Partial<DeviceBid> = {}): DeviceBid {
  return {
    nodeId, name: nodeId, incarnation: 1, seq: 1, role: 'compute', platform: 'linux', arch: 'x64',
    cpuCores: 4, memoryGb: 8, storageGb: 100, gpu: false, sensors: [], internet: true, bandwidthMbps: 100,
    taskTypes: ['echo', 'sleep'], permissions: ['read_files', 'write_files'],
    sandbox: { network: true, memory: true, cpu: true, filesystem: true },
    cpuUsage: 10, memoryUsage: 20, memoryUsedGb: 1, activeTasks: 0, maxConcurrentTasks: 4, latencyMs: 5,
    ...over
  }
}
