// The replicated cluster state: every node applies the same Commands in Raft log order and ends up
// with the same ClusterState. apply() is deterministic — it reads no clock and no global randomness
// (times come in the command, jitter from an rng seeded by (taskId, attempt)) — and it never throws
// on bad input: a bad command gets an error reply and changes nothing. It throws only on a bug.
//
// Task lifecycle as the state machine drives it:
//   submit ──> pending (in the ready queue)            a workflow step whose deps are not all
//              │  ^                                     completed is pending but *blocked*: not
//   assign ──> queued (assigned to a device)           in the queue, pendingReason says why
//   started ─> running
//   finished ─> completed | retry (-> pending, notBefore) | failed/timeout/cancelled (final)
//   refused ─> pending (attempt kept, not a retry)       expire ─> like a timed-out attempt
//   deviceDown ─> failed(device_failure) + a failover clone (pending, excludeDevices += device)
//   cancel ──> cancelled (a later result of the running attempt is stale)
//   handoff ─> drain: clone queued; once it runs the original is cancelled, replacedBy the clone
//
// Retention: a terminal task stays queryable for the cluster's retention (settings.retentionMs,
// default 24 h) or its own resultTtlSeconds, counted from endedAt, then the leader proposes an
// 'evict' naming it (retention.ts finds candidates without a scan). A batch, a workflow and a
// failover chain go whole, once every task in them has ended and expired: a query never meets a
// batch whose tasks are half gone. Evicted task ids are remembered (bounded, FIFO) so a lookup can
// say "evicted" (HTTP 410) rather than "not found"; older ones are recognised by their id time.
// Everything kept is bounded: live tasks by maxQueueSize and device slots, finished ones by the
// retention, remembered requests and tombstones by caps in protocol/limits.ts.

import type {
  ApplyOutcome, AttemptResult, BatchInfo, ClusterEvent, ClusterSettings, Command, RateLimitRule, Role, TaskAttempt, TaskRecord, WorkflowInfo
} from './commands.js'
import type { TaskData, TaskErrorData, TaskStatus } from './types.js'
import { TERMINAL_STATUSES } from './types.js'
import {
  DEFAULT_MAX_QUEUE_SIZE, MAX_BATCH_TASKS, MAX_EVICTED_TOMBSTONES, MAX_QUEUE_SIZE_SETTING, MAX_REMEMBERED_REQUEST_TASK_IDS, MAX_REMEMBERED_REQUESTS,
  MAX_RESULT_TTL_SECONDS, MAX_RATE_LIMIT_RULES
} from '../protocol/limits.js'
import { DEFAULT_RETENTION_MS, EndedIndex, expiresAt } from './retention.js'
import { isValidTaskId, taskIdTimeMs } from './ids.js'
import { TaskQueue } from './queue.js'
import { RetryPolicy } from './retry.js'
import { failoverClone } from './failover.js'
import { canCancel, canManageRoles, canSubmit, isRole } from './permissions.js'
import { hashSeed, mulberry32 } from './rng.js'
import { checkWorkflow, hasStepRefs, substituteStepRefs } from './workflow.js'
import { applyHandoff, type HandoffOps } from './state-machine-handoff.js'

/** Replies remembered for dedup of retried submissions; FIFO-evicted beyond this (bounded memory). */
export { MAX_REMEMBERED_REQUESTS }
/** Upper bound on tasks in one submit command, and in one chunked batch (src/protocol/limits.ts). */
export const MAX_TASKS_PER_SUBMIT = MAX_BATCH_TASKS
/** A staged (chunked, unsealed) batch with no new chunk for this long is dropped (see BatchChunk). */
export const STAGED_BATCH_TTL_MS = 10 * 60_000
/** Guard on following replacedBy links (a task failed over more often than this is a bug). */
const MAX_FAILOVER_HOPS = 1_000
const ALL_STATUSES: readonly TaskStatus[] = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timeout']
const RESULT_STATUSES: ReadonlySet<unknown> = new Set(['completed', 'failed', 'timeout', 'cancelled'])
/** Principal prefix that is admin without a setRole (the node's own token principal is 'local-admin'). */
export const ADMIN_PREFIX = 'admin:'
export const LOCAL_ADMIN = 'local-admin'
export { DEFAULT_MAX_QUEUE_SIZE }

export interface ClusterStateOptions {
  /** ready-queue capacity: a submit that would exceed it is refused with 'queue_full'. @default 100000 */
  maxQueueSize?: number
  /** TaskQueue aging: waiting this long raises a task one priority level. @default TaskQueue's */
  agingSeconds?: number
  priorityWeights?: Record<number, number>
  /** retry classes and backoff; the per-task limit is requirements.maxRetries. @default new RetryPolicy() */
  retryPolicy?: RetryPolicy
}

export type WorkflowRunStatus = 'running' | 'completed' | 'failed' | 'cancelled'

/** Replicated workflow state (plain data, in the snapshot). */
interface WorkflowState {
  id: string
  name: string
  status: WorkflowRunStatus
  steps: Array<{ name: string, taskId: string, dependsOn: string[] }>
  completedSteps: number
  createdAt: number
}

interface BatchState { id: string, name: string, description?: string, taskIds: string[], createdAt: number }

/** Chunks 0..next-1 of a batch submitted in chunks, waiting for its sealing last chunk (plain data, in the snapshot). */
interface StagedBatch { batch: BatchInfo, principal: string, count: number, next: number, tasks: TaskData[], updatedAt: number }

/** Derived (not snapshotted) per-workflow indexes, rebuilt on restore. */
interface WorkflowIndex { byName: Map<string, number>, dependants: number[][] }

export interface BatchProgressData { id: string, name: string, total: number, completed: number, failed: number, running: number, pending: number, cancelled: number }
export interface WorkflowStatusData { id: string, name: string, status: WorkflowRunStatus, steps: Array<{ name: string, taskId: string, status: TaskStatus, dependsOn: string[] }> }
export interface QueueStatisticsData {
  size: number, byPriority: Record<string, number>, avgWaitTimeSeconds: number, running: number, pending: number
  /** task records kept (live and finished, not yet evicted), and evicted since the cluster began */
  stored: number, evicted: number
}

type Reply = NonNullable<ApplyOutcome['reply']>

interface Snapshot {
  version: 1
  appliedIndex: number
  tasks: TaskRecord[]
  queue: Array<[string, number]>          // ready-queue entries in enqueue order, with enqueue time
  lastEnqueueAt: number
  blocked: string[]
  requests: Array<[string, Reply]>
  idempotency: Array<[string, string]>
  roles: Array<[string, Role]>
  batches: BatchState[]
  workflows: WorkflowState[]
  /** absent in snapshots taken before chunked batches existed */
  staged?: StagedBatch[]
  /** absent in snapshots taken before retention existed */
  settings?: ClusterSettings
  tombstones?: string[]
  tombstoneFloorMs?: number
  evicted?: number
}

/** What the leader may evict now (see the 'evict' command). */
export interface EvictionCandidates { taskIds: string[], batchIds: string[], workflowIds: string[] }

function errorReply (type: string, message: string, field?: string): Reply {
  return field === undefined ? { ok: false, error: { type, message } } : { ok: false, error: { type, message, field } }
}

export class ClusterState {
  private readonly tasks = new Map<string, TaskRecord>()
  private readonly byStatus = new Map<TaskStatus, Set<string>>()
  private readonly onDevice = new Map<string, Set<string>>()
  /** ready queue: pending, unblocked tasks. enqueuedAt mirrors it in enqueue order for snapshots. */
  private queue: TaskQueue
  private readonly enqueuedAt = new Map<string, number>()
  private readonly blocked = new Set<string>()
  private lastEnqueueAt = 0
  private readonly requests = new Map<string, Reply>()
  private readonly idempotency = new Map<string, string>()
  private readonly roles = new Map<string, Role>()
  private readonly batches = new Map<string, BatchState>()
  private readonly workflows = new Map<string, WorkflowState>()
  private readonly staged = new Map<string, StagedBatch>()
  private stagedTasks = 0
  private readonly wfIndex = new Map<string, WorkflowIndex>()
  private readonly stepOf = new Map<string, { wf: string, step: number }>()
  /** the leader's local pending reasons: not replicated, not in the snapshot */
  private readonly localReasons = new Map<string, string>()
  /** replicated cluster settings (the 'settings' command) */
  private settings: ClusterSettings = {}
  /** terminal tasks by when they may be evicted (derived, rebuilt on restore) */
  private ended = new EndedIndex()
  /** evicted ids, oldest first (bounded: MAX_EVICTED_TOMBSTONES); batch/workflow ids as 'batch:'/'workflow:' + id */
  private readonly tombstones = new Set<string>()
  /** newest id time among tombstones dropped from the FIFO: an unknown task id at or before it was evicted */
  private tombstoneFloorMs = 0
  /** task ids held in remembered replies (bounded: MAX_REMEMBERED_REQUEST_TASK_IDS) */
  private rememberedIds = 0
  /** the `at` of the command being applied: stamps endedAt */
  private applyAt = 0
  /** tasks evicted since the cluster began */
  evictedTotal = 0
  private readonly retry: RetryPolicy
  private readonly opts: ClusterStateOptions
  readonly counts: Record<TaskStatus, number> = { pending: 0, queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0, timeout: 0 }
  appliedIndex = 0

  constructor (opts: ClusterStateOptions = {}) {
    this.opts = opts
    this.retry = opts.retryPolicy ?? new RetryPolicy()
    this.queue = this.newQueue()
    for (const s of ALL_STATUSES) this.byStatus.set(s, new Set())
  }

  private newQueue (): TaskQueue {
    // the queue itself is unbounded: submit enforces maxQueueSize, and re-queueing a retried,
    // refused or failed-over task must never fail halfway through an apply
    const q: ConstructorParameters<typeof TaskQueue>[0] = { maxSize: Number.MAX_SAFE_INTEGER }
    if (this.opts.agingSeconds !== undefined) (q as { agingSeconds?: number }).agingSeconds = this.opts.agingSeconds
    if (this.opts.priorityWeights !== undefined) (q as { priorityWeights?: Record<number, number> }).priorityWeights = this.opts.priorityWeights
    return new TaskQueue(q)
  }

  // ───────────────────────────── apply ─────────────────────────────

  apply (cmd: Command, index: number): ApplyOutcome {
    if (index > this.appliedIndex) this.appliedIndex = index
    const events: ClusterEvent[] = []
    if (cmd === null || typeof cmd !== 'object') return { events, reply: errorReply('invalid_payload', 'command must be an object') }
    const at = (cmd as { at?: unknown }).at
    if (typeof at === 'number' && Number.isFinite(at)) this.applyAt = at
    switch (cmd.type) {
      case 'submit': return { events, reply: this.applySubmit(cmd, events) }
      case 'assign': {
        const rejected = this.applyAssign(cmd, events)
        return rejected === undefined ? { events } : { events, rejected }
      }
      case 'started': this.applyStarted(cmd, events); return { events }
      case 'finished':
        if (!Array.isArray(cmd.results)) return { events, reply: errorReply('invalid_payload', 'finished.results must be an array', 'results') }
        for (const r of cmd.results) this.applyResult(r, cmd.at, events)
        return { events }
      case 'refused': this.applyRefused(cmd, events); return { events }
      case 'deviceDown': this.applyDeviceDown(cmd.deviceId, cmd.at, events); return { events }
      case 'cancel': return { events, reply: this.applyCancel(cmd, events) }
      case 'expire': this.applyExpire(cmd, events); return { events }
      case 'setRole': return { events, reply: this.applySetRole(cmd) }
      case 'handoff': applyHandoff(this.handoffOps(), cmd, events); return { events }
      case 'evict': this.applyEvict(cmd); return { events }
      case 'settings': return { events, reply: this.applySettings(cmd) }
      default: return { events, reply: errorReply('invalid_payload', `unknown command type '${String((cmd as { type?: unknown }).type)}'`, 'type') }
    }
  }

  // ───────────────────────────── submit ─────────────────────────────

  private applySubmit (cmd: Extract<Command, { type: 'submit' }>, events: ClusterEvent[]): Reply {
    if (typeof cmd.requestId === 'string' && cmd.requestId !== '') {
      const prev = this.requests.get(cmd.requestId)
      if (prev !== undefined) return prev.ok ? { ...prev, duplicate: true } : prev
    }
    if (cmd.chunk !== undefined) return this.applyChunk(cmd, events)
    const problem = this.checkSubmit(cmd)
    if (typeof problem !== 'object' || !('tasks' in problem)) return problem
    const { tasks, existing } = problem
    const role = this.roleOf(cmd.principal)
    for (let i = 0; i < tasks.length; i++) {
      if (existing[i] !== undefined) continue
      const verdict = canSubmit(role, tasks[i])
      if (!verdict.ok) return errorReply('permission_denied', `principal '${cmd.principal}': ${verdict.reason}`, `tasks[${i}]`)
    }
    const newCount = existing.reduce((n, e) => e === undefined ? n + 1 : n, 0)
    if (newCount === 0) return this.remember(cmd.requestId, { ok: true, taskIds: existing as string[], duplicate: true })
    if (newCount < tasks.length && (cmd.batch !== undefined || cmd.workflow !== undefined)) {
      return errorReply('conflict', 'some tasks of this batch/workflow already exist; resubmit it whole with the same ids or with new ones', 'tasks')
    }
    const maxSize = this.maxQueueSize
    if (this.queue.size + newCount > maxSize) {
      return errorReply('queue_full', `task queue is full: ${this.queue.size} tasks wait, the limit is ${maxSize} (cluster setting maxQueueSize); ` +
        `this submit of ${newCount} was refused whole, nothing queued was dropped; retry later`)
    }
    // all checks passed: from here on nothing can refuse, so the submit is atomic
    const ids: string[] = []
    for (let i = 0; i < tasks.length; i++) {
      const ex = existing[i]
      if (ex !== undefined) { ids.push(ex); continue }
      const rec = this.insertTask(tasks[i], cmd.principal, cmd.at, cmd.batch?.id, cmd.workflow?.id)
      ids.push(rec.id)
      events.push({ kind: 'submit', taskId: rec.id, at: cmd.at })
    }
    if (cmd.batch !== undefined) this.insertBatch(cmd.batch, ids, cmd.at)
    if (cmd.workflow !== undefined) this.insertWorkflow(cmd.workflow, ids, cmd.at)
    for (const id of ids) {
      const rec = this.tasks.get(id)
      if (rec !== undefined && rec.status === 'pending' && !this.blocked.has(id) && !this.enqueuedAt.has(id)) this.enqueue(rec, cmd.at)
    }
    return this.remember(cmd.requestId, { ok: true, taskIds: ids, duplicate: false })
  }

  /**
   * One chunk of a chunked batch (see BatchChunk in commands.ts): stage it, or, for the last chunk,
   * seal the batch by submitting every staged task plus this chunk's as one ordinary batch submit.
   */
  private applyChunk (cmd: Extract<Command, { type: 'submit' }>, events: ClusterEvent[]): Reply {
    const c = cmd.chunk as { index: number, count: number }
    if (c === null || typeof c !== 'object' || !Number.isInteger(c.count) || c.count < 1 || c.count > MAX_TASKS_PER_SUBMIT) {
      return errorReply('invalid_payload', `submit.chunk.count must be an integer 1..${MAX_TASKS_PER_SUBMIT}`, 'chunk.count')
    }
    if (!Number.isInteger(c.index) || c.index < 0 || c.index >= c.count) return errorReply('invalid_payload', `submit.chunk.index must be an integer 0..${c.count - 1}`, 'chunk.index')
    if (cmd.workflow !== undefined) return errorReply('invalid_payload', 'a workflow cannot be submitted in chunks', 'chunk')
    const b = cmd.batch
    if (b == null || typeof b !== 'object' || typeof b.id !== 'string' || b.id === '') return errorReply('invalid_payload', 'a chunked submit needs batch.id', 'batch.id')
    if (typeof cmd.principal !== 'string' || cmd.principal === '') return errorReply('invalid_payload', 'submit.principal must be a non-empty string', 'principal')
    if (typeof cmd.at !== 'number' || !Number.isFinite(cmd.at)) return errorReply('invalid_payload', 'submit.at must be a finite number', 'at')
    this.dropStaleStaging(cmd.at)
    const tasks: TaskData[] = Array.isArray(cmd.tasks) ? cmd.tasks : []
    if (tasks.length === 0) return errorReply('invalid_payload', 'submit.tasks must be a non-empty array', 'tasks')
    if (this.batches.has(b.id)) return errorReply('conflict', `batch ${b.id} already exists`, 'batch.id')
    let st = this.staged.get(b.id)
    if (c.index === 0) {
      if (st !== undefined) this.unstage(b.id) // the submitter started over: the old staging goes
      st = undefined
    } else {
      if (st === undefined) return errorReply('conflict', `batch ${b.id}: chunk ${c.index} of ${c.count} arrived but no earlier chunk is staged (expired or never sent); resubmit the batch`, 'chunk.index')
      if (st.principal !== cmd.principal) return errorReply('permission_denied', `batch ${b.id} is being submitted by another principal`, 'principal')
      if (st.count !== c.count || st.next !== c.index) return errorReply('conflict', `batch ${b.id}: chunk ${c.index} of ${c.count} is out of order (expected ${st.next} of ${st.count})`, 'chunk.index')
    }
    const staged = st?.tasks.length ?? 0
    if (staged + tasks.length > MAX_TASKS_PER_SUBMIT) return errorReply('invalid_payload', `a batch holds at most ${MAX_TASKS_PER_SUBMIT} tasks`, 'tasks')
    if (c.index === c.count - 1) {
      // seal: one ordinary, atomic batch submit of everything; the staging goes either way
      const all = st === undefined ? tasks : st.tasks.concat(tasks)
      this.unstage(b.id)
      const { chunk: _chunk, ...whole } = cmd
      return this.applySubmit({ ...whole, tasks: all }, events)
    }
    for (let i = 0; i < tasks.length; i++) {
      const err = checkTaskData(tasks[i], `tasks[${i}]`)
      if (err !== undefined) return err
    }
    const maxSize = this.maxQueueSize
    if (this.stagedTasks + tasks.length > maxSize) return errorReply('queue_full', `too many staged batch tasks (${this.stagedTasks}); retry later`)
    if (st === undefined) {
      st = { batch: { ...b }, principal: cmd.principal, count: c.count, next: 0, tasks: [], updatedAt: cmd.at }
      this.staged.set(b.id, st)
    }
    for (const t of tasks) st.tasks.push(t)
    this.stagedTasks += tasks.length
    st.next = c.index + 1
    st.updatedAt = cmd.at
    return this.remember(cmd.requestId, { ok: true, taskIds: tasks.map(t => t.id), duplicate: false })
  }

  private unstage (batchId: string): void {
    const st = this.staged.get(batchId)
    if (st === undefined) return
    this.stagedTasks -= st.tasks.length
    this.staged.delete(batchId)
  }

  /** Staging abandoned by its submitter goes after STAGED_BATCH_TTL_MS (command time: deterministic). */
  private dropStaleStaging (at: number): void {
    if (this.staged.size === 0) return
    for (const [id, st] of this.staged) if (at - st.updatedAt > STAGED_BATCH_TTL_MS) this.unstage(id)
  }

  /** Chunked batches staged and not yet sealed: batch id → tasks staged so far. */
  stagedBatches (): Map<string, number> {
    const m = new Map<string, number>()
    for (const [id, st] of this.staged) m.set(id, st.tasks.length)
    return m
  }

  private remember (requestId: string, reply: Reply): Reply {
    if (typeof requestId !== 'string' || requestId === '') return reply
    const prev = this.requests.get(requestId)
    if (prev !== undefined) { this.rememberedIds -= replyIds(prev); this.requests.delete(requestId) }
    this.requests.set(requestId, reply)
    this.rememberedIds += replyIds(reply)
    // bounded by count and by the task ids the replies hold (one big batch reply is 10,000 ids)
    while (this.requests.size > 1 && (this.requests.size > MAX_REMEMBERED_REQUESTS || this.rememberedIds > MAX_REMEMBERED_REQUEST_TASK_IDS)) {
      const [oldest, r] = this.requests.entries().next().value as [string, Reply]
      this.requests.delete(oldest)
      this.rememberedIds -= replyIds(r)
    }
    return reply
  }

  /** Validates a submit; returns the task list and, per task, the id of an existing duplicate. */
  private checkSubmit (cmd: Extract<Command, { type: 'submit' }>): Reply | { tasks: TaskData[], existing: Array<string | undefined> } {
    if (typeof cmd.principal !== 'string' || cmd.principal === '') return errorReply('invalid_payload', 'submit.principal must be a non-empty string', 'principal')
    if (typeof cmd.at !== 'number' || !Number.isFinite(cmd.at)) return errorReply('invalid_payload', 'submit.at must be a finite number', 'at')
    let tasks: TaskData[] = Array.isArray(cmd.tasks) ? cmd.tasks : []
    if (cmd.workflow !== undefined) {
      const werr = checkWorkflow(cmd.workflow)
      if (werr !== undefined) return errorReply('invalid_payload', werr.message, werr.field)
      const stepTasks = cmd.workflow.steps.map(s => s.task)
      if (tasks.length > 0 && (tasks.length !== stepTasks.length || tasks.some((t, i) => t?.id !== stepTasks[i].id))) {
        return errorReply('invalid_payload', 'submit.tasks must be empty or the workflow steps\' tasks in step order', 'tasks')
      }
      tasks = stepTasks
      if (this.workflows.has(cmd.workflow.id)) return this.sameIdsOrConflict('workflow', cmd.workflow.id, this.workflows.get(cmd.workflow.id)!.steps.map(s => s.taskId), tasks)
    }
    if (tasks.length === 0) return errorReply('invalid_payload', 'submit.tasks must be a non-empty array', 'tasks')
    if (tasks.length > MAX_TASKS_PER_SUBMIT) return errorReply('invalid_payload', `at most ${MAX_TASKS_PER_SUBMIT} tasks per submit, got ${tasks.length}`, 'tasks')
    if (cmd.batch !== undefined) {
      if (cmd.batch === null || typeof cmd.batch.id !== 'string' || cmd.batch.id === '') return errorReply('invalid_payload', 'batch.id must be a non-empty string', 'batch.id')
      if (typeof cmd.batch.name !== 'string') return errorReply('invalid_payload', 'batch.name must be a string', 'batch.name')
      const b = this.batches.get(cmd.batch.id)
      if (b !== undefined) return this.sameIdsOrConflict('batch', b.id, b.taskIds, tasks)
    }
    const seen = new Set<string>()
    const existing: Array<string | undefined> = new Array(tasks.length)
    for (let i = 0; i < tasks.length; i++) {
      const err = checkTaskData(tasks[i], `tasks[${i}]`)
      if (err !== undefined) return err
      const t = tasks[i]
      if (seen.has(t.id)) return errorReply('invalid_payload', `task id ${t.id} appears twice in one submit`, `tasks[${i}].id`)
      seen.add(t.id)
      // an evicted id is a duplicate too: it ran already, resubmitting it must not run it again
      existing[i] = this.tasks.has(t.id) || this.tombstones.has(t.id) ? t.id : (t.idempotencyKey !== undefined ? this.idempotency.get(t.idempotencyKey) : undefined)
    }
    return { tasks, existing }
  }

  /** A batch/workflow id that already exists: a resubmission with the same task ids is a duplicate. */
  private sameIdsOrConflict (kind: string, id: string, ids: string[], tasks: TaskData[]): Reply | { tasks: TaskData[], existing: Array<string | undefined> } {
    if (ids.length === tasks.length && tasks.every((t, i) => t?.id === ids[i] || this.chainHas(ids[i], t?.id))) {
      return { tasks, existing: ids.slice() }
    }
    return errorReply('conflict', `${kind} ${id} already exists with other tasks`, `${kind}.id`)
  }

  /** True when `id` is `first` or reached from it by replaces-links (a step failed over). */
  private chainHas (current: string, first: string | undefined): boolean {
    let r = this.tasks.get(current)
    for (let hops = 0; r !== undefined && hops < MAX_FAILOVER_HOPS; hops++) {
      if (r.id === first) return true
      r = r.replaces === undefined ? undefined : this.tasks.get(r.replaces)
    }
    return false
  }

  private insertTask (data: TaskData, principal: string, at: number, batchId?: string, workflowId?: string): TaskRecord {
    // own copy: the command object may be shared (tests apply one command to several states)
    const task: TaskData = { ...data, requirements: { ...data.requirements } }
    if (batchId !== undefined) task.batchId = batchId
    if (workflowId !== undefined) task.workflowId = workflowId
    const rec: TaskRecord = {
      id: task.id, taskType: task.taskType, status: 'pending', priority: task.priority, task,
      attempts: [], progress: 0, createdAt: task.createdAt, submittedAt: at, submittedBy: principal
    }
    if (task.batchId !== undefined) rec.batchId = task.batchId
    if (task.workflowId !== undefined) rec.workflowId = task.workflowId
    if (task.replaces !== undefined) rec.replaces = task.replaces
    this.tasks.set(rec.id, rec)
    this.byStatus.get('pending')!.add(rec.id)
    this.counts.pending++
    if (task.idempotencyKey !== undefined) this.idempotency.set(task.idempotencyKey, rec.id)
    return rec
  }

  private insertBatch (b: BatchInfo, ids: string[], at: number): void {
    const st: BatchState = { id: b.id, name: b.name, taskIds: ids, createdAt: at }
    if (b.description !== undefined) st.description = b.description
    this.batches.set(b.id, st)
  }

  private insertWorkflow (w: WorkflowInfo, ids: string[], at: number): void {
    const st: WorkflowState = {
      id: w.id, name: typeof w.name === 'string' ? w.name : w.id, status: 'running', completedSteps: 0, createdAt: at,
      steps: w.steps.map((s, i) => ({ name: s.name, taskId: ids[i], dependsOn: s.dependsOn.slice() }))
    }
    this.workflows.set(st.id, st)
    this.indexWorkflow(st)
    for (let i = 0; i < st.steps.length; i++) {
      const s = st.steps[i]
      if (s.dependsOn.length === 0) continue
      const rec = this.tasks.get(s.taskId) as TaskRecord
      this.blocked.add(rec.id)
      rec.pendingReason = `waiting for step${s.dependsOn.length > 1 ? 's' : ''} ${s.dependsOn.map(d => `'${d}'`).join(', ')}`
    }
  }

  private indexWorkflow (st: WorkflowState): void {
    const byName = new Map<string, number>()
    const dependants: number[][] = st.steps.map(() => [])
    st.steps.forEach((s, i) => { byName.set(s.name, i); this.stepOf.set(s.taskId, { wf: st.id, step: i }) })
    st.steps.forEach((s, i) => { for (const d of s.dependsOn) dependants[byName.get(d) as number].push(i) })
    this.wfIndex.set(st.id, { byName, dependants })
  }

  // ───────────────────────────── assign / started / refused ─────────────────────────────

  private applyAssign (cmd: Extract<Command, { type: 'assign' }>, events: ClusterEvent[]): ApplyOutcome['rejected'] {
    if (!Array.isArray(cmd.assignments)) return undefined
    let rejected: ApplyOutcome['rejected']
    for (const a of cmd.assignments) {
      if (a == null || typeof a !== 'object') continue
      const why = this.assignProblem(a, cmd.at)
      if (why !== undefined) {
        (rejected ??= []).push({ taskId: String(a.taskId), attempt: a.attempt, deviceId: String(a.deviceId), reason: why })
        continue
      }
      const rec = this.tasks.get(a.taskId) as TaskRecord
      this.dequeue(rec.id)
      this.setStatus(rec, 'queued')
      rec.deviceId = a.deviceId
      rec.attempts.push({ attempt: a.attempt, deviceId: a.deviceId, status: 'queued', assignedAt: cmd.at })
      this.addToDevice(a.deviceId, rec.id)
      this.localReasons.delete(rec.id)
      if (rec.pendingReason !== undefined) delete rec.pendingReason
      events.push({ kind: 'schedule', taskId: rec.id, attempt: a.attempt, deviceId: a.deviceId, at: cmd.at })
    }
    return rejected
  }

  /** Why an assignment cannot be applied, or undefined when it can. */
  private assignProblem (a: { taskId: string, attempt: number, deviceId: string }, at: number): string | undefined {
    const rec = this.tasks.get(a.taskId)
    if (rec === undefined) return 'unknown task'
    if (rec.status !== 'pending') return `task is ${rec.status}`
    if (!this.enqueuedAt.has(rec.id)) return 'task is waiting for its workflow dependencies'
    if (rec.notBefore !== undefined && rec.notBefore > at) return 'retry backoff has not passed'
    if (a.attempt !== rec.attempts.length + 1) return `attempt ${a.attempt} is not the next one (${rec.attempts.length + 1})`
    if (typeof a.deviceId !== 'string' || a.deviceId === '') return 'no device id'
    if (rec.task.requirements.excludeDevices.includes(a.deviceId)) return 'device is excluded' // a failover clone never goes back
    return undefined
  }

  /** The current attempt of a task in flight, if (taskId, attempt, deviceId) names it. */
  private current (taskId: string, attempt: number, deviceId?: string): { rec: TaskRecord, att: TaskAttempt } | undefined {
    const rec = this.tasks.get(taskId)
    if (rec === undefined || (rec.status !== 'queued' && rec.status !== 'running')) return undefined
    if (attempt !== rec.attempts.length) return undefined
    const att = rec.attempts[attempt - 1]
    if (deviceId !== undefined && att.deviceId !== deviceId) return undefined
    return { rec, att }
  }

  private applyStarted (cmd: Extract<Command, { type: 'started' }>, events: ClusterEvent[]): void {
    const cur = this.current(cmd.taskId, cmd.attempt, cmd.deviceId)
    if (cur === undefined || cur.rec.status !== 'queued') return // stale or duplicate: nothing to do
    this.markRunning(cur.rec, cur.att, cmd.at)
    events.push({ kind: 'start', taskId: cmd.taskId, attempt: cmd.attempt, deviceId: cmd.deviceId, at: cmd.at })
  }

  private markRunning (rec: TaskRecord, att: TaskAttempt, at: number): void {
    this.setStatus(rec, 'running')
    att.status = 'running'
    att.startedAt = at
    if (rec.startedAt === undefined) rec.startedAt = at
  }

  private applyRefused (cmd: Extract<Command, { type: 'refused' }>, events: ClusterEvent[]): void {
    const cur = this.current(cmd.taskId, cmd.attempt, cmd.deviceId)
    if (cur === undefined) return
    const { rec, att } = cur
    att.status = 'failed'
    att.finishedAt = cmd.at
    att.error = { type: 'resource_exhausted', message: `refused by ${cmd.deviceId}: ${String(cmd.reason)}` }
    att.refused = true
    this.backToPending(rec, cmd.at, undefined)
    void events // a refusal is not a lifecycle event; the task simply waits for the next plan
  }

  // ───────────────────────────── results ─────────────────────────────

  private applyResult (r: AttemptResult, at: number, events: ClusterEvent[]): void {
    if (r == null || typeof r !== 'object' || !RESULT_STATUSES.has(r.status)) return
    const rec = this.tasks.get(r.taskId)
    if (rec === undefined || !Number.isInteger(r.attempt) || r.attempt < 1) return
    if (r.attempt > rec.attempts.length + 1) return // no assignment could have been dispatched yet: malformed
    if (r.attempt > rec.attempts.length) {
      // Early: the result of an assignment dispatched while it committed reached the log first (or
      // its assignment was lost with a deposed leader). Not applicable yet; the worker answers the
      // assignment, once it commits and is dispatched again, with this same outcome (worker.ts).
      rec.staleResults = (rec.staleResults ?? 0) + 1
      events.push({ kind: 'stale', taskId: rec.id, attempt: r.attempt, deviceId: r.deviceId, at })
      return
    }
    const att = rec.attempts[r.attempt - 1]
    if (att.reported === true) return // duplicate (taskId, attempt): the outcome is recorded once
    const inFlight = rec.status === 'queued' || rec.status === 'running'
    if (!inFlight || r.attempt !== rec.attempts.length || r.deviceId !== att.deviceId) {
      // a superseded attempt (retried, expired, failed over, cancelled): recorded, never applied
      if (r.deviceId === att.deviceId) att.reported = true
      rec.staleResults = (rec.staleResults ?? 0) + 1
      events.push({ kind: 'stale', taskId: rec.id, attempt: r.attempt, deviceId: r.deviceId, at })
      return
    }
    att.reported = true
    if (rec.status === 'queued') {
      // a fast attempt finished before its worker reported 'started' (it only does after 100 ms):
      // it did run, so hooks still see start before complete/error, once per attempt
      const startedAt = typeof r.startedAt === 'number' ? r.startedAt : at
      this.markRunning(rec, att, startedAt)
      events.push({ kind: 'start', taskId: rec.id, attempt: att.attempt, deviceId: att.deviceId, at: startedAt })
    }
    if (typeof r.startedAt === 'number') att.startedAt = r.startedAt
    att.finishedAt = typeof r.finishedAt === 'number' ? r.finishedAt : at
    if (r.resourceUsage !== undefined) rec.resourceUsage = r.resourceUsage
    if (r.status === 'completed') {
      this.complete(rec, att, r.result, at, events)
      return
    }
    const type = r.status === 'timeout' ? 'timeout_error' : r.status === 'cancelled' ? 'cancelled' : 'execution_error'
    const error: TaskErrorData = r.error ?? { type, message: `attempt ${r.attempt} ended ${r.status}` }
    this.failAttempt(rec, att, r.status, error, at, events)
  }

  private complete (rec: TaskRecord, att: TaskAttempt, result: unknown, at: number, events: ClusterEvent[]): void {
    att.status = 'completed'
    this.removeFromDevice(rec)
    this.setStatus(rec, 'completed')
    rec.result = result
    if (rec.error !== undefined) delete rec.error // an earlier attempt's error stays in attempts[]
    rec.progress = 100
    rec.finishedAt = att.finishedAt ?? at
    events.push({ kind: 'complete', taskId: rec.id, attempt: att.attempt, deviceId: att.deviceId, at, result })
    this.onStepCompleted(rec, at, events)
  }

  /**
   * An attempt ended badly: retry (back to pending after a deterministic backoff) when the error
   * class is retryable and retries remain, else the task ends with that status.
   */
  private failAttempt (rec: TaskRecord, att: TaskAttempt, status: 'failed' | 'timeout' | 'cancelled', error: TaskErrorData, at: number, events: ClusterEvent[]): void {
    att.status = status
    att.error = error
    if (att.finishedAt === undefined) att.finishedAt = at
    const retries = rec.task.retryCount
    const maxRetries = rec.task.requirements.maxRetries
    if (status !== 'cancelled' && this.retry.shouldRetry(error.type, retries, maxRetries)) {
      const rng = mulberry32(hashSeed(rec.id + ':' + att.attempt))
      const delaySeconds = this.retry.nextDelay(retries, rng)
      const notBefore = at + Math.max(0, Math.round(delaySeconds * 1000))
      rec.task.retryCount = retries + 1
      rec.error = error
      this.backToPending(rec, at, notBefore)
      events.push({ kind: 'error', taskId: rec.id, attempt: att.attempt, deviceId: att.deviceId, at, error, final: false, status })
      events.push({ kind: 'retry', taskId: rec.id, attempt: att.attempt, at, notBefore })
      return
    }
    this.removeFromDevice(rec)
    this.setStatus(rec, status)
    rec.error = error
    rec.finishedAt = at
    events.push({ kind: 'error', taskId: rec.id, attempt: att.attempt, deviceId: att.deviceId, at, error, final: true, status })
    this.onStepEnded(rec, status === 'cancelled' ? 'cancelled' : 'failed', at, events)
  }

  private backToPending (rec: TaskRecord, at: number, notBefore: number | undefined): void {
    this.removeFromDevice(rec)
    this.setStatus(rec, 'pending')
    delete rec.deviceId
    if (notBefore !== undefined) rec.notBefore = notBefore
    this.enqueue(rec, at)
  }

  private applyExpire (cmd: Extract<Command, { type: 'expire' }>, events: ClusterEvent[]): void {
    const cur = this.current(cmd.taskId, cmd.attempt)
    if (cur === undefined) return
    const msg = `attempt ${cmd.attempt} on ${cur.att.deviceId} did not report within its timeout`
    this.failAttempt(cur.rec, cur.att, 'timeout', { type: 'timeout_error', message: msg }, cmd.at, events)
  }

  // ───────────────────────────── device down / failover ─────────────────────────────

  private applyDeviceDown (deviceId: string, at: number, events: ClusterEvent[]): void {
    const set = this.onDevice.get(deviceId)
    if (set === undefined) return
    // sorted: a Set's order depends on history, which a restored replica does not share
    const ids = [...set].sort((x, y) => x < y ? -1 : x > y ? 1 : 0)
    for (const id of ids) {
      const rec = this.tasks.get(id) as TaskRecord
      const att = rec.attempts[rec.attempts.length - 1]
      const error: TaskErrorData = { type: 'device_failure', message: `device ${deviceId} stopped responding` }
      att.status = 'failed'
      att.error = error
      att.finishedAt = at
      this.removeFromDevice(rec)
      this.setStatus(rec, 'failed')
      rec.error = error
      rec.finishedAt = at
      const clone = this.cloneFor(rec, deviceId, at)
      rec.replacedBy = clone.id
      this.enqueue(clone, at)
      this.moveMembership(rec, clone)
      // final:false: the work goes on in the clone; waiters follow replacedBy
      events.push({ kind: 'error', taskId: rec.id, attempt: att.attempt, deviceId, at, error, final: false, status: 'failed' })
      events.push({ kind: 'failover', taskId: rec.id, cloneId: clone.id, deviceId, at })
      events.push({ kind: 'submit', taskId: clone.id, at })
    }
    this.onDevice.delete(deviceId)
  }

  private cloneFor (rec: TaskRecord, deviceId: string, at: number): TaskRecord {
    const attempt = rec.attempts.length
    const rng = mulberry32(hashSeed(rec.id + ':' + attempt))
    const data = failoverClone(rec.task, deviceId, { now: Math.max(0, Math.floor(at)), rng })
    // the clone id is derived from (original, attempt) so every node makes the same one
    let id = `${rec.id}-f${attempt}`
    for (let n = 2; this.tasks.has(id); n++) id = `${rec.id}-f${attempt}.${n}`
    const task: TaskData = { ...data, id, replaces: rec.id }
    return this.insertTask(task, rec.submittedBy ?? LOCAL_ADMIN, at, rec.batchId, rec.workflowId)
  }

  /** A workflow step now points at the clone, so progression waits for (and reads) the clone. */
  private moveMembership (orig: TaskRecord, clone: TaskRecord): void {
    const pos = this.stepOf.get(orig.id)
    if (pos === undefined) return
    const wf = this.workflows.get(pos.wf) as WorkflowState
    wf.steps[pos.step].taskId = clone.id
    this.stepOf.set(clone.id, pos)
  }

  // ───────────────────────────── drain hand-off (logic in state-machine-handoff.ts) ─────────────────────────────

  private handoffOps (): HandoffOps {
    return {
      get: id => this.tasks.get(id),
      clone: (rec, deviceId, at) => {
        const clone = this.cloneFor(rec, deviceId, at)
        this.enqueue(clone, at)
        return clone
      },
      supersede: (rec, clone, error, at) => {
        const att = rec.attempts[rec.attempts.length - 1]
        att.status = 'cancelled'
        att.error = error
        att.finishedAt = at
        this.removeFromDevice(rec)
        this.setStatus(rec, 'cancelled')
        rec.error = error
        rec.finishedAt = at
        rec.replacedBy = clone.id
        this.moveMembership(rec, clone)
      },
      cancel: (rec, message, at, events) => { this.cancelTask(rec, message, at, events) }
    }
  }

  // ───────────────────────────── cancel / roles ─────────────────────────────

  private applyCancel (cmd: Extract<Command, { type: 'cancel' }>, events: ClusterEvent[]): Reply {
    const rec = this.tasks.get(cmd.taskId)
    if (rec === undefined) return errorReply('not_found', `task ${cmd.taskId} not found`, 'taskId')
    const role = this.roleOf(cmd.principal)
    const verdict = canCancel(role, rec.submittedBy === cmd.principal)
    if (!verdict.ok) return errorReply('permission_denied', `principal '${cmd.principal}': ${verdict.reason}`)
    if (TERMINAL_STATUSES.has(rec.status)) {
      const hint = rec.replacedBy !== undefined ? `; it was failed over to ${rec.replacedBy}` : ''
      return errorReply('conflict', `task ${rec.id} is already ${rec.status}${hint}`, 'taskId')
    }
    this.cancelTask(rec, `cancelled by ${cmd.principal}`, cmd.at, events)
    return { ok: true, taskIds: [rec.id], duplicate: false }
  }

  private cancelTask (rec: TaskRecord, message: string, at: number, events: ClusterEvent[]): void {
    const error: TaskErrorData = { type: 'cancelled', message }
    const att = rec.status === 'queued' || rec.status === 'running' ? rec.attempts[rec.attempts.length - 1] : undefined
    if (att !== undefined) { att.status = 'cancelled'; att.error = error; att.finishedAt = at }
    this.dequeue(rec.id)
    this.blocked.delete(rec.id)
    this.localReasons.delete(rec.id)
    if (rec.pendingReason !== undefined) delete rec.pendingReason
    this.removeFromDevice(rec)
    this.setStatus(rec, 'cancelled')
    rec.error = error
    rec.finishedAt = at
    // the leader kills a running attempt on seeing this event (deviceId set)
    const ev: ClusterEvent = { kind: 'error', taskId: rec.id, attempt: att?.attempt ?? rec.attempts.length, at, error, final: true, status: 'cancelled' }
    if (att !== undefined) ev.deviceId = att.deviceId
    events.push(ev)
    this.onStepEnded(rec, 'cancelled', at, events)
  }

  private applySetRole (cmd: Extract<Command, { type: 'setRole' }>): Reply {
    const verdict = canManageRoles(this.roleOf(cmd.by))
    if (!verdict.ok) return errorReply('permission_denied', `principal '${cmd.by}': ${verdict.reason}`)
    if (typeof cmd.principal !== 'string' || cmd.principal === '') return errorReply('invalid_payload', 'setRole.principal must be a non-empty string', 'principal')
    if (cmd.role !== null && !isRole(cmd.role)) return errorReply('invalid_payload', 'role must be one of admin, operator, submitter, viewer, or null', 'role')
    if (cmd.role === null) this.roles.delete(cmd.principal)
    else this.roles.set(cmd.principal, cmd.role)
    return { ok: true, taskIds: [], duplicate: false }
  }

  /**
   * A principal's role: an explicit setRole wins; otherwise 'local-admin' (the node's own API token)
   * and principals named 'admin:<...>' are admins, everyone else is a submitter.
   */
  roleOf (principal: string): Role {
    const r = this.roles.get(principal)
    if (r !== undefined) return r
    if (principal === LOCAL_ADMIN || (typeof principal === 'string' && principal.startsWith(ADMIN_PREFIX))) return 'admin'
    return 'submitter'
  }

  // ───────────────────────────── settings / retention ─────────────────────────────

  private applySettings (cmd: Extract<Command, { type: 'settings' }>): Reply {
    const verdict = canManageRoles(this.roleOf(cmd.by))
    if (!verdict.ok) return errorReply('permission_denied', `principal '${cmd.by}': ${verdict.reason}`)
    const p = cmd.settings
    if (p == null || typeof p !== 'object') return errorReply('invalid_payload', 'settings must be an object', 'settings')
    const next: ClusterSettings = { ...this.settings }
    if (p.retentionMs !== undefined) {
      if (p.retentionMs === null) delete next.retentionMs
      else if (!Number.isInteger(p.retentionMs) || p.retentionMs < 0 || p.retentionMs > MAX_RESULT_TTL_SECONDS * 1000) return errorReply('invalid_payload', `retentionMs must be an integer 0..${MAX_RESULT_TTL_SECONDS * 1000}`, 'settings.retentionMs')
      else next.retentionMs = p.retentionMs
    }
    if (p.maxQueueSize !== undefined) {
      if (p.maxQueueSize === null) delete next.maxQueueSize
      else if (!Number.isInteger(p.maxQueueSize) || p.maxQueueSize < 1 || p.maxQueueSize > MAX_QUEUE_SIZE_SETTING) return errorReply('invalid_payload', `maxQueueSize must be an integer 1..${MAX_QUEUE_SIZE_SETTING}`, 'settings.maxQueueSize')
      else next.maxQueueSize = p.maxQueueSize
    }
    if (p.rateLimits !== undefined) {
      if (p.rateLimits === null || (Array.isArray(p.rateLimits) && p.rateLimits.length === 0)) delete next.rateLimits
      else if (!Array.isArray(p.rateLimits) || p.rateLimits.length > MAX_RATE_LIMIT_RULES) return errorReply('invalid_payload', `rateLimits must be a list of at most ${MAX_RATE_LIMIT_RULES} rules`, 'settings.rateLimits')
      else next.rateLimits = p.rateLimits.map(r => ({ ...r }))
    }
    this.settings = next
    return { ok: true, taskIds: [], duplicate: false }
  }

  /** The replicated cluster settings (a copy). */
  clusterSettings (): ClusterSettings {
    const out: ClusterSettings = { ...this.settings }
    if (this.settings.rateLimits !== undefined) out.rateLimits = this.settings.rateLimits.map(r => ({ ...r }))
    return out
  }

  /** The rate-limit rules (the live array: a new one after every change, so identity says "changed"). */
  get rateLimits (): readonly RateLimitRule[] | undefined { return this.settings.rateLimits }

  get retentionMs (): number { return this.settings.retentionMs ?? DEFAULT_RETENTION_MS }
  get maxQueueSize (): number { return this.settings.maxQueueSize ?? this.opts.maxQueueSize ?? DEFAULT_MAX_QUEUE_SIZE }

  /** The tasks of an eviction unit that `id` belongs to: its whole failover chain (originals and clones). */
  private chainOf (rec: TaskRecord, out: TaskRecord[]): void {
    let root = rec
    for (let hops = 0; root.replaces !== undefined && hops < MAX_FAILOVER_HOPS; hops++) {
      const prev = this.tasks.get(root.replaces)
      if (prev === undefined) break
      root = prev
    }
    let cur: TaskRecord | undefined = root
    for (let hops = 0; cur !== undefined && hops < MAX_FAILOVER_HOPS; hops++) {
      out.push(cur)
      cur = cur.replacedBy === undefined ? undefined : this.tasks.get(cur.replacedBy)
    }
  }

  /** The tasks of a batch/workflow/standalone chain, if every one has ended and expired at `at`. */
  private expiredUnit (kind: 'task' | 'batch' | 'workflow', id: string, at: number): TaskRecord[] | undefined {
    const unit: TaskRecord[] = []
    if (kind === 'task') {
      const rec = this.tasks.get(id)
      if (rec === undefined || rec.batchId !== undefined || rec.workflowId !== undefined) return undefined
      this.chainOf(rec, unit)
    } else if (kind === 'batch') {
      const b = this.batches.get(id)
      if (b === undefined) return undefined
      for (const tid of b.taskIds) { const r = this.tasks.get(tid); if (r !== undefined) this.chainOf(r, unit) }
    } else {
      const w = this.workflows.get(id)
      if (w === undefined || w.status === 'running') return undefined
      for (const s of w.steps) { const r = this.tasks.get(s.taskId); if (r !== undefined) this.chainOf(r, unit) }
    }
    const retention = this.retentionMs
    for (const r of unit) if (!TERMINAL_STATUSES.has(r.status) || expiresAt(r, retention) > at) return undefined
    return unit
  }

  private applyEvict (cmd: Extract<Command, { type: 'evict' }>): void {
    if (typeof cmd.at !== 'number') return
    const lists: Array<['task' | 'batch' | 'workflow', unknown]> = [['task', cmd.taskIds], ['batch', cmd.batchIds], ['workflow', cmd.workflowIds]]
    for (const [kind, list] of lists) {
      if (!Array.isArray(list)) continue
      for (const id of list) {
        if (typeof id !== 'string') continue
        const unit = this.expiredUnit(kind, id, cmd.at)
        if (unit === undefined) continue
        for (const r of unit) this.evictTask(r)
        if (kind === 'batch') { this.batches.delete(id); this.tombstone(`batch:${id}`) }
        if (kind === 'workflow') { this.workflows.delete(id); this.wfIndex.delete(id); this.tombstone(`workflow:${id}`) }
      }
    }
  }

  private evictTask (rec: TaskRecord): void {
    if (!this.tasks.delete(rec.id)) return
    this.byStatus.get(rec.status)!.delete(rec.id)
    this.counts[rec.status]--
    const k = rec.task.idempotencyKey
    if (k !== undefined && this.idempotency.get(k) === rec.id) this.idempotency.delete(k)
    this.stepOf.delete(rec.id)
    this.localReasons.delete(rec.id)
    this.ended.remove(rec.id)
    this.evictedTotal++
    this.tombstone(rec.id)
  }

  private tombstone (id: string): void {
    this.tombstones.add(id)
    if (this.tombstones.size <= MAX_EVICTED_TOMBSTONES) return
    const oldest = this.tombstones.values().next().value as string
    this.tombstones.delete(oldest)
    const tid = oldest.slice(0, 26)
    if (isValidTaskId(tid)) this.tombstoneFloorMs = Math.max(this.tombstoneFloorMs, taskIdTimeMs(tid))
  }

  /**
   * Was this id (a task id, or 'batch:<id>' / 'workflow:<id>') evicted? Exact for the newest
   * MAX_EVICTED_TOMBSTONES evictions; an unknown task id whose time is at or before the newest
   * forgotten tombstone is taken as evicted too (it is older than anything the cluster still keeps
   * track of). Call only for ids that are not in the state.
   */
  wasEvicted (id: string): boolean {
    if (this.tombstones.has(id)) return true
    const tid = id.slice(0, 26)
    return isValidTaskId(tid) && this.tombstoneFloorMs > 0 && taskIdTimeMs(tid) <= this.tombstoneFloorMs
  }

  /**
   * What the leader may evict at `now`: standalone task chains, batches and workflows whose every
   * task has ended and expired, about `max` tasks in all (the last unit may go over). Walks only expired index entries (at most
   * `maxVisit`), never all tasks.
   */
  evictionCandidates (now: number, max: number, maxVisit = 4 * max): EvictionCandidates {
    const out: EvictionCandidates = { taskIds: [], batchIds: [], workflowIds: [] }
    const seen = new Set<string>()
    let n = 0
    for (const id of this.ended.expired(now, this.retentionMs, maxVisit)) {
      if (n >= max) break
      const rec = this.tasks.get(id)
      if (rec === undefined) continue
      const [kind, key, list] = rec.batchId !== undefined && this.batches.has(rec.batchId)
        ? ['batch' as const, rec.batchId, out.batchIds]
        : rec.workflowId !== undefined && this.workflows.has(rec.workflowId)
          ? ['workflow' as const, rec.workflowId, out.workflowIds]
          : ['task' as const, rec.id, out.taskIds]
      const unitKey = `${kind}:${key}`
      if (seen.has(unitKey)) continue
      seen.add(unitKey)
      const unit = this.expiredUnit(kind, kind === 'task' ? rec.id : key, now)
      if (unit === undefined) continue
      if (kind === 'task') for (const r of unit) seen.add(`task:${r.id}`)
      list.push(kind === 'task' ? unit[0].id : key)
      n += unit.length // bounds the apply's work, not just the ids: a batch id stands for up to 10,000 tasks
    }
    return out
  }

  // ───────────────────────────── workflows ─────────────────────────────

  private onStepCompleted (rec: TaskRecord, at: number, events: ClusterEvent[]): void {
    const pos = this.stepOf.get(rec.id)
    if (pos === undefined) return
    const wf = this.workflows.get(pos.wf) as WorkflowState
    const idx = this.wfIndex.get(pos.wf) as WorkflowIndex
    wf.completedSteps++
    for (const d of idx.dependants[pos.step]) this.maybeUnblock(wf, idx, d, at)
    if (wf.completedSteps === wf.steps.length && wf.status === 'running') wf.status = 'completed'
    void events
  }

  private maybeUnblock (wf: WorkflowState, idx: WorkflowIndex, stepIdx: number, at: number): void {
    const step = wf.steps[stepIdx]
    const rec = this.tasks.get(step.taskId) as TaskRecord
    if (!this.blocked.has(rec.id)) return
    for (const d of step.dependsOn) {
      if (this.stepTask(wf, idx, d)?.status !== 'completed') return
    }
    // `prev` is the step's last dependency (in a chain: the step before it)
    const prevName = step.dependsOn.length > 0 ? step.dependsOn[step.dependsOn.length - 1] : undefined
    if (hasStepRefs(rec.task.payload)) {
      // any completed step of the workflow may be referenced, not only direct deps
      const byName = {
        has: (n: string) => this.stepTask(wf, idx, n)?.status === 'completed',
        get: (n: string) => this.stepTask(wf, idx, n)?.result
      }
      rec.task = { ...rec.task, payload: substituteStepRefs(rec.task.payload, { byName, prev: prevName }) }
    }
    this.blocked.delete(rec.id)
    delete rec.pendingReason
    this.enqueue(rec, at)
  }

  private stepTask (wf: WorkflowState, idx: WorkflowIndex, name: string): TaskRecord | undefined {
    const i = idx.byName.get(name)
    return i === undefined ? undefined : this.tasks.get(wf.steps[i].taskId)
  }

  /** A step ended for good without completing: cancel what depends on it; the workflow fails. */
  private onStepEnded (rec: TaskRecord, how: 'failed' | 'cancelled', at: number, events: ClusterEvent[]): void {
    const pos = this.stepOf.get(rec.id)
    if (pos === undefined) return
    const wf = this.workflows.get(pos.wf) as WorkflowState
    const idx = this.wfIndex.get(pos.wf) as WorkflowIndex
    if (wf.status === 'running') wf.status = how
    const stepName = wf.steps[pos.step].name
    for (const d of idx.dependants[pos.step]) {
      const dep = this.tasks.get(wf.steps[d].taskId) as TaskRecord
      if (TERMINAL_STATUSES.has(dep.status)) continue
      // recursion depth is bounded by the DAG's depth, which validation bounds by MAX_WORKFLOW_STEPS
      this.cancelTask(dep, `dependency '${stepName}' ${rec.status}`, at, events)
    }
  }

  // ───────────────────────────── indexes ─────────────────────────────

  private setStatus (rec: TaskRecord, to: TaskStatus): void {
    const from = rec.status
    if (from === to) return
    this.byStatus.get(from)!.delete(rec.id)
    this.byStatus.get(to)!.add(rec.id)
    this.counts[from]--
    this.counts[to]++
    rec.status = to
    if (TERMINAL_STATUSES.has(to) && !TERMINAL_STATUSES.has(from)) {
      rec.endedAt = this.applyAt
      this.ended.add(rec)
    }
  }

  private enqueue (rec: TaskRecord, at: number): void {
    // enqueue times never decrease (leaders' clocks differ): a restored queue, re-filled in this
    // order with these times, then ages and orders exactly like the original
    const t = at > this.lastEnqueueAt ? at : this.lastEnqueueAt
    this.lastEnqueueAt = t
    this.queue.enqueue(rec.task, t)
    this.enqueuedAt.delete(rec.id)
    this.enqueuedAt.set(rec.id, t)
  }

  private dequeue (id: string): void {
    if (!this.enqueuedAt.delete(id)) return
    this.queue.remove(id)
  }

  private addToDevice (deviceId: string, id: string): void {
    let set = this.onDevice.get(deviceId)
    if (set === undefined) { set = new Set(); this.onDevice.set(deviceId, set) }
    set.add(id)
  }

  private removeFromDevice (rec: TaskRecord): void {
    if (rec.deviceId === undefined) return
    const set = this.onDevice.get(rec.deviceId)
    if (set === undefined) return
    set.delete(rec.id)
    if (set.size === 0) this.onDevice.delete(rec.deviceId)
  }

  // ───────────────────────────── queries ─────────────────────────────

  /** The record (live object: do not mutate). The leader's local pendingReason is merged in. */
  getTask (id: string): TaskRecord | undefined {
    const rec = this.tasks.get(id)
    if (rec === undefined) return undefined
    const local = this.localReasons.get(id)
    return local !== undefined && rec.status === 'pending' && rec.pendingReason === undefined ? { ...rec, pendingReason: local } : rec
  }

  /** Follows replacedBy links to the task that carries the work now (itself if never failed over). */
  latest (id: string): TaskRecord | undefined {
    let rec = this.tasks.get(id)
    for (let hops = 0; rec?.replacedBy !== undefined && hops < MAX_FAILOVER_HOPS; hops++) {
      const next = this.tasks.get(rec.replacedBy)
      if (next === undefined) break
      rec = next
    }
    return rec === undefined ? undefined : this.getTask(rec.id)
  }

  /**
   * Tasks matching the filter, oldest first (submission order) or newest first; `limit` cuts after
   * ordering. The per-device index holds only live (queued/running) tasks, so it serves only those.
   */
  listTasks (filter: { status?: TaskStatus, deviceId?: string, limit?: number, order?: 'oldest' | 'newest' } = {}): TaskRecord[] {
    const limit = filter.limit ?? Infinity
    const out: TaskRecord[] = []
    let ids: Iterable<string>
    if (filter.deviceId !== undefined && (filter.status === 'queued' || filter.status === 'running')) {
      ids = this.onDevice.get(filter.deviceId) ?? []
    } else {
      ids = filter.status !== undefined ? (this.byStatus.get(filter.status) ?? []) : this.tasks.keys()
    }
    if (filter.order === 'newest') ids = [...ids].reverse()
    for (const id of ids) {
      if (out.length >= limit) break
      const rec = this.getTask(id) as TaskRecord
      if (filter.status !== undefined && rec.status !== filter.status) continue
      if (filter.deviceId !== undefined && rec.deviceId !== filter.deviceId) continue
      out.push(rec)
    }
    return out
  }

  /** Tasks ready to schedule at `now` (pending, unblocked, notBefore ≤ now), in queue order with aging. */
  pendingInOrder (now: number, limit = Infinity): TaskRecord[] {
    const out: TaskRecord[] = []
    for (const t of this.readyIterator(now)) {
      if (out.length >= limit) break
      out.push(t)
    }
    return out
  }

  /** Lazy form of pendingInOrder: the scheduler stops walking when it has enough. */
  * readyIterator (now: number): Generator<TaskRecord> {
    // peek drops removed entries at the bucket heads, so ordered() does not skip them every call
    this.queue.peek(now)
    for (const t of this.queue.ordered(now)) {
      const rec = this.tasks.get(t.id)
      if (rec === undefined) continue
      if (rec.notBefore !== undefined && rec.notBefore > now) continue
      yield rec
    }
  }

  runningOn (deviceId: string): TaskRecord[] {
    const set = this.onDevice.get(deviceId)
    return set === undefined ? [] : [...set].map(id => this.tasks.get(id) as TaskRecord)
  }

  /** How many tasks are queued/running on a device (no allocation). */
  runningCount (deviceId: string): number {
    return this.onDevice.get(deviceId)?.size ?? 0
  }

  /** Devices that have queued/running tasks (for down-device detection without a scan). */
  devicesWithTasks (): string[] {
    return [...this.onDevice.keys()]
  }

  /** Number of queued/running tasks per device (the scheduler's in-flight baseline). */
  inflightByDevice (): Map<string, number> {
    const m = new Map<string, number>()
    for (const [d, set] of this.onDevice) m.set(d, set.size)
    return m
  }

  activeTasks (): TaskRecord[] {
    return [...this.byStatus.get('queued')!, ...this.byStatus.get('running')!].map(id => this.tasks.get(id) as TaskRecord)
  }

  queueStatistics (now: number): QueueStatisticsData {
    const s = this.queue.getStatistics(now) as { size: number, byPriority: Record<string, number>, avgWaitTimeSeconds: number }
    return {
      size: s.size, byPriority: s.byPriority, avgWaitTimeSeconds: s.avgWaitTimeSeconds, running: this.counts.running + this.counts.queued,
      pending: this.counts.pending, stored: this.tasks.size, evicted: this.evictedTotal
    }
  }

  batchProgress (id: string): BatchProgressData | undefined {
    const b = this.batches.get(id)
    if (b === undefined) return undefined
    const p: BatchProgressData = { id, name: b.name, total: b.taskIds.length, completed: 0, failed: 0, running: 0, pending: 0, cancelled: 0 }
    for (const tid of b.taskIds) {
      const s = (this.latest(tid) as TaskRecord).status
      if (s === 'completed') p.completed++
      else if (s === 'failed' || s === 'timeout') p.failed++
      else if (s === 'cancelled') p.cancelled++
      else if (s === 'pending') p.pending++
      else p.running++
    }
    return p
  }

  batchTaskIds (id: string): string[] | undefined {
    return this.batches.get(id)?.taskIds.slice()
  }

  workflowStatus (id: string): WorkflowStatusData | undefined {
    const wf = this.workflows.get(id)
    if (wf === undefined) return undefined
    return {
      id, name: wf.name, status: wf.status,
      steps: wf.steps.map(s => ({ name: s.name, taskId: s.taskId, status: (this.tasks.get(s.taskId) as TaskRecord).status, dependsOn: s.dependsOn.slice() }))
    }
  }

  /** The leader's explanation for a pending task (not replicated); undefined clears it. */
  setPendingReason (id: string, reason: string | undefined): void {
    if (reason === undefined) this.localReasons.delete(id)
    else if (this.tasks.get(id)?.status === 'pending') this.localReasons.set(id, reason)
  }

  get size (): number { return this.tasks.size }
  get readySize (): number { return this.queue.size }

  // ───────────────────────────── snapshot ─────────────────────────────

  /**
   * A plain-object image of the replicated state (msgpackr-friendly). It shares objects with the
   * live state: encode it before applying further commands.
   */
  snapshot (): Snapshot {
    return {
      version: 1,
      appliedIndex: this.appliedIndex,
      tasks: [...this.tasks.values()],
      queue: [...this.enqueuedAt],
      lastEnqueueAt: this.lastEnqueueAt,
      blocked: [...this.blocked],
      requests: [...this.requests],
      idempotency: [...this.idempotency],
      roles: [...this.roles],
      batches: [...this.batches.values()],
      workflows: [...this.workflows.values()],
      staged: [...this.staged.values()],
      settings: this.settings,
      tombstones: [...this.tombstones],
      tombstoneFloorMs: this.tombstoneFloorMs,
      evicted: this.evictedTotal
    }
  }

  static restore (snap: unknown, opts: ClusterStateOptions = {}): ClusterState {
    const s = snap as Snapshot
    if (s == null || s.version !== 1) throw new Error('unsupported cluster-state snapshot version')
    const st = new ClusterState(opts)
    st.appliedIndex = s.appliedIndex
    for (const rec of s.tasks) {
      st.tasks.set(rec.id, rec)
      if (TERMINAL_STATUSES.has(rec.status)) st.ended.add(rec)
      st.byStatus.get(rec.status)!.add(rec.id)
      st.counts[rec.status]++
      if ((rec.status === 'queued' || rec.status === 'running') && rec.deviceId !== undefined) st.addToDevice(rec.deviceId, rec.id)
    }
    for (const [id, at] of s.queue) st.enqueue(st.tasks.get(id) as TaskRecord, at)
    st.lastEnqueueAt = s.lastEnqueueAt
    for (const id of s.blocked) st.blocked.add(id)
    for (const [k, v] of s.requests) { st.requests.set(k, v); st.rememberedIds += replyIds(v) }
    for (const [k, v] of s.idempotency) st.idempotency.set(k, v)
    for (const [k, v] of s.roles) st.roles.set(k, v)
    for (const b of s.batches) st.batches.set(b.id, b)
    for (const w of s.workflows) { st.workflows.set(w.id, w); st.indexWorkflow(w) }
    for (const b of s.staged ?? []) { st.staged.set(b.batch.id, b); st.stagedTasks += b.tasks.length }
    if (s.settings !== undefined) st.settings = s.settings
    for (const id of s.tombstones ?? []) st.tombstones.add(id)
    st.tombstoneFloorMs = s.tombstoneFloorMs ?? 0
    st.evictedTotal = s.evicted ?? 0
    return st
  }
}

/** Task ids a remembered reply holds (what MAX_REMEMBERED_REQUEST_TASK_IDS bounds). */
function replyIds (r: Reply): number {
  return r.ok ? r.taskIds.length : 0
}

/** Cheap structural check of a submitted TaskData (the submitting node already parsed the spec). */
function checkTaskData (t: TaskData, path: string): Reply | undefined {
  if (t == null || typeof t !== 'object') return errorReply('invalid_payload', `${path} must be a task object`, path)
  if (typeof t.id !== 'string' || t.id === '' || t.id.length > 200) return errorReply('invalid_payload', `${path}.id must be a non-empty string (≤ 200 chars)`, `${path}.id`)
  if (typeof t.taskType !== 'string' || t.taskType === '') return errorReply('invalid_payload', `${path}.taskType must be a non-empty string`, `${path}.taskType`)
  if (!Number.isInteger(t.priority) || t.priority < 1 || t.priority > 5) return errorReply('invalid_payload', `${path}.priority must be an integer 1..5`, `${path}.priority`)
  const r = t.requirements
  if (r == null || typeof r !== 'object') return errorReply('invalid_payload', `${path}.requirements must be an object`, `${path}.requirements`)
  if (!Number.isInteger(r.maxRetries) || r.maxRetries < 0) return errorReply('invalid_payload', `${path}.requirements.maxRetries must be an integer ≥ 0`, `${path}.requirements.maxRetries`)
  if (!Array.isArray(r.excludeDevices)) return errorReply('invalid_payload', `${path}.requirements.excludeDevices must be an array`, `${path}.requirements.excludeDevices`)
  if (!Number.isInteger(t.retryCount) || t.retryCount < 0) return errorReply('invalid_payload', `${path}.retryCount must be an integer ≥ 0`, `${path}.retryCount`)
  if (typeof t.createdAt !== 'number') return errorReply('invalid_payload', `${path}.createdAt must be a number (ms)`, `${path}.createdAt`)
  if (!Array.isArray(t.requiredPermissions)) return errorReply('invalid_payload', `${path}.requiredPermissions must be an array`, `${path}.requiredPermissions`)
  if (t.idempotencyKey !== undefined && typeof t.idempotencyKey !== 'string') return errorReply('invalid_payload', `${path}.idempotencyKey must be a string`, `${path}.idempotencyKey`)
  return undefined
}
