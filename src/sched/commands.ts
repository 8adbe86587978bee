// Commands of the cluster state machine: the only way the replicated state changes. The leader
// proposes them (many per Raft entry: an entry's data is an encoded Command[]), every node applies
// them in log order. Everything a command needs to apply deterministically is inside it: times
// (`at`, from the leader's clock), device ids, computed delays. apply() never reads a clock.

import type { TaskData, TaskErrorData, TaskStatus, ResourceUsage } from './types.js'
import type { ReliabilityConfig } from './reliability.js'
import type { PreemptionConfig } from './preemption.js'

export type Role = 'admin' | 'operator' | 'submitter' | 'viewer'

export interface AttemptResult {
  taskId: string
  attempt: number               // 1-based attempt number the leader assigned
  deviceId: string
  status: 'completed' | 'failed' | 'timeout' | 'cancelled'
  result?: unknown
  error?: TaskErrorData
  startedAt: number
  finishedAt: number
  resourceUsage?: ResourceUsage
}

export interface BatchInfo { id: string, name: string, description?: string }

/**
 * A batch too big for one command (wire frame / Raft entry caps) is submitted as `count` submit
 * commands carrying the same `batch`, sent one after the other with index 0..count-1. Chunks
 * 0..count-2 are STAGED: kept aside in the replicated state, invisible to queries and never
 * schedulable. The last chunk SEALS the batch: the staged tasks plus its own are inserted exactly
 * like a one-command batch submit (every check, all or nothing) in one apply. So the submitter
 * sees the batch either whole or not at all: a batch whose seal never comes (submitter died, seal
 * refused) leaves nothing schedulable, and its staging is dropped after STAGED_BATCH_TTL_MS of
 * inactivity (by command time, so deterministically on every node) or when chunk 0 is resent.
 */
export interface BatchChunk { index: number, count: number }

export interface WorkflowStepSpec { name: string, task: TaskData, dependsOn: string[] }
export interface WorkflowInfo { id: string, name: string, steps: WorkflowStepSpec[] }

export type Command =
  /** Submit tasks atomically. requestId dedups retried submissions (client id + counter).
   *  `chunk`: one piece of a batch too big for one command (see BatchChunk). */
  | { type: 'submit', requestId: string, principal: string, at: number, tasks: TaskData[], batch?: BatchInfo, workflow?: WorkflowInfo, chunk?: BatchChunk }
  /** The leader's scheduler placed tasks on devices. */
  /** relaxed: the device is in the failover clone's failedOn and no other device could take it */
  | { type: 'assign', at: number, assignments: Array<{ taskId: string, attempt: number, deviceId: string, relaxed?: boolean }> }
  /** A worker said it started (attempt must match the current one, else ignored as stale). */
  | { type: 'started', at: number, taskId: string, attempt: number, deviceId: string }
  /** Results, keyed by (taskId, attempt); a superseded attempt is recorded as stale. */
  | { type: 'finished', at: number, results: AttemptResult[] }
  /** A worker refused an assignment (no capacity): the task goes back to the queue. */
  | { type: 'refused', at: number, taskId: string, attempt: number, deviceId: string, reason: string }
  /** deviceTimeout passed with no bid and no ping: fail its running tasks, resubmit clones. */
  | { type: 'deviceDown', at: number, deviceId: string }
  | { type: 'cancel', at: number, taskId: string, principal: string }
  /** Leader-side timeout for an attempt whose worker vanished or never reported. */
  | { type: 'expire', at: number, taskId: string, attempt: number }
  | { type: 'setRole', at: number, principal: string, role: Role | null, by: string }
  /**
   * Drain hand-off of one attempt on a draining device (state/handoff.ts), never blamed on it:
   *  'clone'   a clone is queued (excludeDevices += device) while the original keeps running;
   *  'release' the clone runs (or the deadline passed): the original ends 'cancelled', replacedBy the clone;
   *  'abort'   the original ended first (or the drain was lifted): a clone not yet started is cancelled.
   */
  | { type: 'handoff', at: number, phase: 'clone' | 'release' | 'abort', taskId: string, attempt: number, deviceId: string, reason: string }
  /**
   * Stop the running attempt (taskId, attempt) on deviceId to make room for forTaskId (see
   * preemption.ts): the task goes back to the queue with no retry used and nothing charged to the device.
   */
  | { type: 'preempt', at: number, taskId: string, attempt: number, deviceId: string, forTaskId: string }
  /**
   * Drop finished records whose retention passed (see "Retention" in state-machine.ts). The leader
   * names them (ClusterState.evictionCandidates); apply re-checks each against `at`, so every node
   * evicts exactly the same records at this log index. `taskIds` are standalone tasks (with their
   * failover chain); a batch or workflow goes whole, by its id.
   */
  | { type: 'evict', at: number, taskIds: string[], batchIds: string[], workflowIds: string[] }
  /** Cluster settings (admin only): fields given replace the current ones; null resets to the default. */
  | { type: 'settings', at: number, by: string, settings: ClusterSettingsPatch }

/** One rate limit: at most `count` assignments per `perSeconds`, cluster-wide, for a task type or a principal. */
export interface RateLimitRule {
  /** 'type' limits tasks of task type `key`; 'principal' limits tasks submitted by principal `key` */
  scope: 'type' | 'principal'
  key: string
  count: number
  perSeconds: number
  /** assignments allowed at once after a quiet spell (the bucket's size). @default 2 (see rate-limit.ts DEFAULT_BURST) */
  burst?: number
}

/** Replicated cluster settings (in the snapshot); absent fields take the defaults. */
export interface ClusterSettings {
  /** terminal tasks are evicted this long after they end (a task's resultTtlSeconds wins). @default 24 h */
  retentionMs?: number
  /** ready-queue capacity: a submit over it is refused with 'queue_full'. @default 100000 */
  maxQueueSize?: number
  /**
   * terminal tasks kept at most: beyond it the oldest (by when they ended) are evicted before
   * their retention ends, a batch/workflow/failover chain whole once all of it has ended (like
   * BullMQ's removeOnComplete {count}). 0 keeps none. @default 100000 (retention.ts says why)
   */
  maxRetainedTasks?: number
  /** @default none */
  rateLimits?: RateLimitRule[]
  /** reliability, quarantine and poisoned tasks; fields not given keep their defaults (see reliability.ts) */
  reliability?: Partial<ReliabilityConfig>
  /** preemption of low-priority work; fields not given keep their defaults (see preemption.ts) */
  preemption?: Partial<PreemptionConfig>
}

export type ClusterSettingsPatch = { [K in keyof ClusterSettings]?: ClusterSettings[K] | null }

export interface TaskAttempt {
  attempt: number
  deviceId: string
  status: TaskStatus
  assignedAt: number
  startedAt?: number
  finishedAt?: number
  error?: TaskErrorData
  /** a worker result for this attempt was recorded (applied or stale): a repeat is ignored */
  reported?: boolean
  /** the worker refused the assignment: not counted as a retry */
  refused?: boolean
}

/** A task as the cluster knows it: what getTaskStatus / GET /v1/tasks/:id return. */
export interface TaskRecord {
  id: string
  taskType: string
  status: TaskStatus
  priority: number
  task: TaskData
  deviceId?: string
  attempts: TaskAttempt[]
  result?: unknown
  error?: TaskErrorData
  pendingReason?: string
  progress: number
  resourceUsage?: ResourceUsage
  createdAt: number
  submittedAt: number
  startedAt?: number
  finishedAt?: number
  notBefore?: number            // a retry waits until then (replicated, so a new leader honours it)
  replacedBy?: string
  replaces?: string
  batchId?: string
  workflowId?: string
  staleResults?: number
  /** principal that submitted it (a submitter may cancel only its own tasks) */
  submittedBy?: string
  /** a drain hand-off is under way: the clone that will take over (see the 'handoff' command) */
  handoffTo?: string
  /** leader time (the command's `at`) when the task reached its terminal status: retention counts from here */
  endedAt?: number
}

/** Events the state machine emits while applying: lifecycle hooks and waiters hang off these. */
export type ClusterEvent =
  /** replaces: the task a failover or drain hand-off clone stands in for (the clone's own `replaces`) */
  | { kind: 'submit', taskId: string, at: number, replaces?: string }
  | { kind: 'schedule', taskId: string, attempt: number, deviceId: string, at: number }
  | { kind: 'start', taskId: string, attempt: number, deviceId: string, at: number }
  | { kind: 'complete', taskId: string, attempt: number, deviceId: string, at: number, result: unknown }
  | { kind: 'error', taskId: string, attempt: number, deviceId?: string, at: number, error: TaskErrorData, final: boolean, status: TaskStatus }
  | { kind: 'stale', taskId: string, attempt: number, deviceId: string, at: number }
  | { kind: 'retry', taskId: string, attempt: number, at: number, notBefore: number }
  | { kind: 'failover', taskId: string, cloneId: string, deviceId: string, at: number }

export interface ApplyOutcome {
  events: ClusterEvent[]
  /** for 'submit': the answer to the submitter (ids, or an error), also on a duplicate requestId */
  reply?: { ok: true, taskIds: string[], duplicate: boolean } | { ok: false, error: { type: string, message: string, field?: string } }
  /** for 'assign': assignments that were not applied (task no longer pending, wrong attempt, ...),
   *  so the leader can release the in-flight slot it reserved for them */
  rejected?: Array<{ taskId: string, attempt: number, deviceId: string, reason: string }>
}
