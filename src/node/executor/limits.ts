// Effective limits of one task: the stricter of what the node allows and what the task asks for.

import type { TaskData } from '../../sched/types.js'
import type { EffectiveLimits, NodePolicy } from '../handlers/context.js'

export interface ResourceLimits {
  /** CPU share of the whole device a task's processes may use. @default 80 */
  cpuPercent?: number
  /** memory per task. @default 2048 */
  memoryMb?: number
  /** seconds per task, whatever the task asks for. @default 3600 */
  executionTime?: number
}

export const DEFAULT_LIMITS = { cpuPercent: 80, memoryMb: 2048, executionTime: 3600 } as const
export const DEFAULT_POLICY: NodePolicy = { grants: ['read_files', 'write_files'], allowedPaths: [], maxFileSizeBytes: 100 * 1024 * 1024 }
/** a task whose requirements name no timeout gets the seed's default */
const DEFAULT_TASK_TIMEOUT_S = 300
const MB = 1024 * 1024

function minDefined (...xs: Array<number | undefined>): number {
  let m = Infinity
  for (const x of xs) if (x !== undefined && Number.isFinite(x) && x > 0 && x < m) m = x
  return m
}

export function effectiveLimits (task: TaskData, node: Required<ResourceLimits>, policy: NodePolicy): EffectiveLimits {
  const sb = task.sandboxConfig
  const timeoutS = minDefined(task.requirements?.timeoutSeconds ?? DEFAULT_TASK_TIMEOUT_S, sb?.maxExecutionTimeSeconds, node.executionTime)
  const limits: EffectiveLimits = {
    timeoutMs: Math.round(timeoutS * 1000),
    memoryBytes: minDefined(node.memoryMb * MB, sb?.memoryLimitBytes),
    cpuPercent: minDefined(node.cpuPercent, sb?.cpuLimitPercent, 100),
    // the network is a permission the node grants; a task can only give it up
    allowNetwork: (sb?.allowNetwork ?? true) && policy.grants.includes('network_access'),
    allowFilesystem: sb?.allowFilesystem ?? true,
    maxFileSizeBytes: minDefined(policy.maxFileSizeBytes, sb?.maxFileSizeBytes)
  }
  if (sb?.allowedPaths !== undefined && sb.allowedPaths.length > 0) limits.taskPaths = sb.allowedPaths
  return limits
}
