// The data of the replicated cluster state: one plain record that every command family's step
// functions (this folder, one file each) read and change, the way etcd raft's step functions share
// one `raft` struct. It holds no behaviour; the indexes' upkeep is in indexes.ts, the public facade
// (queries, apply, snapshot) is the ClusterState class in ../state-machine.ts.
//
// Invariants the step functions keep (test/unit/state-random.test.ts checks them after every command):
// - `tasks` holds every record not yet evicted, in submission order; `byStatus` and `counts` mirror
//   each record's status; `onDevice` holds exactly the queued/running tasks, by their deviceId.
// - a pending task is in the ready queue (`queue`, mirrored by `enqueuedAt` in enqueue order) or in
//   `blocked` (a workflow step waiting for its dependencies), never both; no other task is in either.
// - `ended` indexes exactly the terminal records (derived: rebuilt on restore, like `wfIndex`/`stepOf`).

import type { BatchInfo, ClusterSettings, ApplyOutcome, Role, TaskRecord } from '../commands.js'
import type { TaskData, TaskStatus } from '../types.js'
import { DEFAULT_MAX_QUEUE_SIZE, MAX_BATCH_TASKS, MAX_REMEMBERED_REQUESTS } from '../../protocol/limits.js'
import { EndedIndex } from '../retention.js'
import { FifoSet } from '../fifo-set.js'
import { TaskQueue } from '../queue.js'
import { RetryPolicy } from '../retry.js'
import type { DeviceReliability } from '../reliability.js'

/** Replies remembered for dedup of retried submissions; FIFO-evicted beyond this (bounded memory). */
export { MAX_REMEMBERED_REQUESTS, DEFAULT_MAX_QUEUE_SIZE }
/** Upper bound on tasks in one submit command, and in one chunked batch (src/protocol/limits.ts). */
export const MAX_TASKS_PER_SUBMIT = MAX_BATCH_TASKS
/** A staged (chunked, unsealed) batch with no new chunk for this long is dropped (see BatchChunk). */
export const STAGED_BATCH_TTL_MS = 10 * 60_000
/** Principal prefix that is admin without a setRole (the node's own token principal is 'local-admin'). */
export const ADMIN_PREFIX = 'admin:'
export const LOCAL_ADMIN = 'local-admin'
const ALL_STATUSES: readonly TaskStatus[] = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timeout']

export interface ClusterStateOptions {
  /** ready-queue capacity: a submit that would exceed it is refused with 'queue_full'. @default 100000 */
  maxQueueSize?: number
  /** TaskQueue aging: waiting this long raises a task one priority level. @default TaskQueue's */
  agingSeconds?: number
  priorityWeights?: Record<number, number>
  /** retry classes and backoff; the per-task limit is requirements.maxRetries. @default new RetryPolicy() */
  retryPolicy?: RetryPolicy
  /**
   * Freeze every record once its task has ended (at the end of the command that ended it, and on
   * restore), so that changing one in place throws. Tests turn it on (RC_CHECK_INVARIANTS): a record
   * that has ended is only ever replaced by a changed copy (changeable), never changed in place, and
   * a snapshot reuses the bytes it encoded for such records before (src/node/cluster/snapshot-pieces.ts).
   * @default false
   */
  freezeEnded?: boolean
}

export type WorkflowRunStatus = 'running' | 'completed' | 'failed' | 'cancelled'

/** Replicated workflow state (plain data, in the snapshot). */
export interface WorkflowState {
  id: string
  name: string
  status: WorkflowRunStatus
  steps: Array<{ name: string, taskId: string, dependsOn: string[] }>
  completedSteps: number
  createdAt: number
}

export interface BatchState { id: string, name: string, description?: string, taskIds: string[], createdAt: number }

/** Chunks 0..next-1 of a batch submitted in chunks, waiting for its sealing last chunk (plain data, in the snapshot). */
export interface StagedBatch { batch: BatchInfo, principal: string, count: number, next: number, tasks: TaskData[], updatedAt: number }

/** Derived (not snapshotted) per-workflow indexes, rebuilt on restore. */
export interface WorkflowIndex { byName: Map<string, number>, dependants: number[][] }

export interface IllegalTransitions { count: number, last?: { taskId: string, from: TaskStatus, to: TaskStatus, at: number } }

export type Reply = NonNullable<ApplyOutcome['reply']>
export type Rejected = NonNullable<ApplyOutcome['rejected']>

export interface State {
  readonly opts: ClusterStateOptions
  readonly retry: RetryPolicy
  readonly tasks: Map<string, TaskRecord>
  readonly byStatus: Map<TaskStatus, Set<string>>
  readonly counts: Record<TaskStatus, number>
  /** queued/running tasks per device */
  readonly onDevice: Map<string, Set<string>>
  /** ready queue: pending, unblocked tasks. enqueuedAt mirrors it in enqueue order for snapshots. */
  readonly queue: TaskQueue
  readonly enqueuedAt: Map<string, number>
  /** enqueue times never decrease (see enqueue in indexes.ts) */
  lastEnqueueAt: number
  /** pending workflow steps waiting for their dependencies */
  readonly blocked: Set<string>
  /** requestId → the reply it got (dedup of retried submissions), oldest first */
  readonly requests: Map<string, Reply>
  /** task ids held in remembered replies (bounded: MAX_REMEMBERED_REQUEST_TASK_IDS) */
  rememberedIds: number
  /** idempotencyKey → task id */
  readonly idempotency: Map<string, string>
  readonly roles: Map<string, Role>
  readonly batches: Map<string, BatchState>
  readonly workflows: Map<string, WorkflowState>
  readonly staged: Map<string, StagedBatch>
  /** tasks held by `staged` (bounded by maxQueueSize) */
  stagedTasks: number
  readonly wfIndex: Map<string, WorkflowIndex>
  /** task id → its workflow step (derived, rebuilt on restore) */
  readonly stepOf: Map<string, { wf: string, step: number }>
  /** the leader's local pending reasons: not replicated, not in the snapshot */
  readonly localReasons: Map<string, string>
  /** replicated cluster settings (the 'settings' command) */
  settings: ClusterSettings
  /** per-device reliability, quarantine and probation (state/reliability.ts); bounded by MAX_RELIABILITY_DEVICES */
  readonly reliability: Map<string, DeviceReliability>
  /** terminal tasks by when they may be evicted (derived, rebuilt on restore) */
  readonly ended: EndedIndex
  /** evicted ids, oldest first (bounded: MAX_EVICTED_TOMBSTONES); batch/workflow ids as 'batch:'/'workflow:' + id */
  readonly tombstones: FifoSet
  /** newest id time among tombstones dropped from the FIFO: an unknown task id at or before it was evicted */
  tombstoneFloorMs: number
  /** tasks evicted since the cluster began */
  evictedTotal: number
  /**
   * status changes outside src/sched/status.ts's table that reached setStatus (a bug in a step's
   * guard; see setStatus). Diagnostics: not replicated, not in the snapshot; 0 in a correct build.
   */
  readonly illegalTransitions: IllegalTransitions
  /** records that ended in the command being applied, to be frozen after it (only with opts.freezeEnded) */
  readonly toFreeze: TaskRecord[]
  /** the `at` of the command being applied: stamps endedAt */
  applyAt: number
  appliedIndex: number
}

let freezeEndedByDefault = false

/**
 * Tests: every state made from now on freezes its ended records unless its options say otherwise
 * (ClusterStateOptions.freezeEnded). The test runs turn it on; a node does when RC_CHECK_INVARIANTS=1.
 */
export function freezeEndedRecordsByDefault (on: boolean): void { freezeEndedByDefault = on }

export function createState (opts: ClusterStateOptions = {}): State {
  if (opts.freezeEnded === undefined && freezeEndedByDefault) opts = { ...opts, freezeEnded: true }
  const byStatus = new Map<TaskStatus, Set<string>>()
  for (const s of ALL_STATUSES) byStatus.set(s, new Set())
  return {
    opts,
    retry: opts.retryPolicy ?? new RetryPolicy(),
    tasks: new Map(),
    byStatus,
    counts: { pending: 0, queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0, timeout: 0 },
    onDevice: new Map(),
    queue: newQueue(opts),
    enqueuedAt: new Map(),
    lastEnqueueAt: 0,
    blocked: new Set(),
    requests: new Map(),
    rememberedIds: 0,
    idempotency: new Map(),
    roles: new Map(),
    batches: new Map(),
    workflows: new Map(),
    staged: new Map(),
    stagedTasks: 0,
    wfIndex: new Map(),
    stepOf: new Map(),
    localReasons: new Map(),
    settings: {},
    reliability: new Map(),
    ended: new EndedIndex(),
    tombstones: new FifoSet(),
    tombstoneFloorMs: 0,
    evictedTotal: 0,
    illegalTransitions: { count: 0 },
    toFreeze: [],
    applyAt: 0,
    appliedIndex: 0
  }
}

function newQueue (opts: ClusterStateOptions): TaskQueue {
  // the queue itself is unbounded: submit enforces maxQueueSize, and re-queueing a retried,
  // refused or failed-over task must never fail halfway through an apply
  const q: ConstructorParameters<typeof TaskQueue>[0] = { maxSize: Number.MAX_SAFE_INTEGER }
  if (opts.agingSeconds !== undefined) (q as { agingSeconds?: number }).agingSeconds = opts.agingSeconds
  if (opts.priorityWeights !== undefined) (q as { priorityWeights?: Record<number, number> }).priorityWeights = opts.priorityWeights
  return new TaskQueue(q)
}

export function errorReply (type: string, message: string, field?: string): Reply {
  return field === undefined ? { ok: false, error: { type, message } } : { ok: false, error: { type, message, field } }
}
