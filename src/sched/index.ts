// Public surface of the pure scheduling core: no I/O, no clock, no Math.random — time (ms since
// epoch) and randomness (an Rng) are parameters.
//
// @example
//   const rng = mulberry32(42)
//   const task = parseTaskSpec({ task_type: 'echo', priority: 'high', requirements: { min_cpu_cores: 2 } }, { now, rng })
//   const queue = new TaskQueue()                      // 10,000 tasks, seed priority weights, 60 s aging
//   queue.enqueue(task, now)
//   const next = queue.dequeue(now)                    // best effective priority, FIFO on ties
//   const [best] = rankDevices(bids, next!, inflight)  // matchRequirements filter, then scoreDevice
//   const retry = DEFAULT_RETRY_POLICY.shouldRetry('network_error', 0) ? DEFAULT_RETRY_POLICY.nextDelay(0, rng) : undefined
export * from './types.js'
export type { Role } from './commands.js'
export * from './errors.js'
export { type Rng, mulberry32, hashSeed } from './rng.js'
export { newTaskId, isValidTaskId, taskIdTimeMs, monotonicTaskIds, TASK_ID_LENGTH } from './ids.js'
export { TaskRequirements, defaultRequirements, parseRequirements, copyRequirements, PLATFORMS, DEVICE_ROLES, REQUIREMENT_LIMITS } from './requirements.js'
export { SandboxConfig, defaultSandboxConfig, parseSandboxConfig, parseByteSize, copySandboxConfig } from './sandbox.js'
export { Task, type TaskInit, type ParseTaskContext, parseTaskSpec, parsePriority, priorityName, copyTaskData, cloneTaskData, PERMISSIONS, TASK_LIMITS } from './task.js'
export { canTransition, assertTransition, nextStatuses } from './status.js'
export { TaskQueue, type TaskQueueOptions, type QueueEntry, type QueueStatistics, DEFAULT_PRIORITY_WEIGHTS } from './queue.js'
export { matchRequirements, meetsRequirements, isValidBid, bidProblem, sandboxEnforceable, type MatchResult, type MatchOptions, BID_LIMITS } from './device.js'
export { scoreDevice, rankDevices, type RankedDevice, MEMORY_REFERENCE_GB, LATENCY_CEILING_MS } from './score.js'
export { RetryPolicy, DEFAULT_RETRY_POLICY, DEFAULT_RETRYABLE_ERRORS, type RetryPolicyOptions, type RetryPolicyInit, type BackoffStrategy } from './retry.js'
export { failoverClone } from './failover.js'
export {
  ROLES, ROLE_PERMISSIONS, COMMAND_TASK_TYPES, type RolePermission, type Decision,
  isRole, hasPermission, canSubmit, canCancel, canManageRoles, needsSystemCommands, assertAllowed
} from './permissions.js'
