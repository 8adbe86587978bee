// The replicated cluster state: every node applies the same Commands in Raft log order and ends up
// with the same ClusterState. apply() is deterministic — it reads no clock and no global randomness
// (times come in the command, jitter from an rng seeded by (taskId, attempt)) — and it never throws
// on bad input: a bad command gets an error reply and changes nothing. It throws only on a bug.
//
// This file is the facade (apply, queries, snapshot); the state's data is one plain record
// (state/state.ts) and each command family's step functions live in one file of state/, found
// through a dispatch table (state/dispatch.ts), the way etcd raft keeps a step function per role:
//   state/submit.ts submit-checks.ts batch-chunks.ts   submit: single, batch, chunked batch
//   state/workflows.ts                                 workflows and chains (blocked steps, refs)
//   state/assignment.ts                                assign, started, refused
//   state/results.ts                                   finished (retries, stale results), expire
//   state/device-down.ts chains.ts                     device down + failover clones, their links
//   state/cancel.ts                                    cancel (and a failed step's dependants)
//   state/handoff.ts                                   drain hand-off
//   state/preempt.ts                                   preemption of low-priority running work
//   state/reliability.ts                               device reliability, quarantine, poisoned tasks
//   state/settings.ts evict.ts                         roles, settings, retention and eviction
//   state/snapshot.ts queries.ts records.ts requests.ts
//
// Task lifecycle as the state machine drives it (the legal status moves, and which command makes
// each, are one table: src/sched/status.ts; every step asks it before it moves a task):
//   submit ──> pending (in the ready queue)            a workflow step whose deps are not all
//              │  ^                                     completed is pending but *blocked*: not
//   assign ──> queued (assigned to a device)           in the queue, pendingReason says why
//   started ─> running
//   finished ─> completed | retry (-> pending, notBefore) | failed/timeout/cancelled (final)
//   refused ─> pending (attempt kept, not a retry)       expire ─> like a timed-out attempt
//   deviceDown ─> failed(device_failure) + a failover clone (pending, excludeDevices += device)
//   cancel ──> cancelled (a later result of the running attempt is stale)
//   handoff ─> drain: clone queued; once it runs the original is cancelled, replacedBy the clone
//   preempt ─> pending (the running attempt ends cancelled/'preempted'; no retry, no blame)
//   a result also updates its device's reliability; a task failed on 3 distinct devices ends
//   failed with error type 'poisoned' instead of retrying (state/reliability.ts)
//
// Retention: a terminal task stays queryable for the cluster's retention (settings.retentionMs,
// default 24 h) or its own resultTtlSeconds, counted from endedAt, then the leader proposes an
// 'evict' naming it (retention.ts finds candidates without a scan). A batch, a workflow and a
// failover chain go whole, once every task in them has ended and expired: a query never meets a
// batch whose tasks are half gone. Evicted task ids are remembered (bounded, FIFO) so a lookup can
// say "evicted" (HTTP 410) rather than "not found"; older ones are recognised by their id time.
// Everything kept is bounded: live tasks by maxQueueSize and device slots, finished ones by the
// retention and by maxRetainedTasks (over it the oldest ended units go early, state/evict.ts),
// remembered requests and tombstones by caps in protocol/limits.ts.

import type { ApplyOutcome, ClusterEvent, ClusterSettings, Command, RateLimitRule, Role, TaskRecord } from './commands.js'
import type { TaskStatus } from './types.js'
import { stepFor } from './state/dispatch.js'
import { freezeEnded } from './state/records.js'
import { evictionCandidates, wasEvicted, type EvictionCandidates } from './state/evict.js'
import {
  batchProgress, getTask, latest, listTasks, queueStatistics, readyIterator, workflowStatus,
  type BatchProgressData, type QueueStatisticsData, type TaskFilter, type WorkflowStatusData
} from './state/queries.js'
import { stagedBatches } from './state/batch-chunks.js'
import { submitsInsertAll } from './state/submit.js'
import { clusterSettings, maxQueueSizeOf, maxRetainedTasksOf, retentionMsOf, roleOf } from './state/settings.js'
import { restoreState, restoreSteps, takeSnapshot, type Snapshot } from './state/snapshot.js'
import { createState, errorReply, type ClusterStateOptions, type IllegalTransitions, type State } from './state/state.js'
import { reliabilityConfigOf } from './state/reliability.js'
import { countsAt, healthAt, placementReliability, reliabilityScore, type DeviceHealth, type ReliabilityConfig } from './reliability.js'
import { preemptionConfig, type PreemptionConfig } from './preemption.js'

export {
  ADMIN_PREFIX, DEFAULT_MAX_QUEUE_SIZE, LOCAL_ADMIN, MAX_REMEMBERED_REQUESTS, MAX_TASKS_PER_SUBMIT, STAGED_BATCH_TTL_MS,
  freezeEndedRecordsByDefault, type ClusterStateOptions, type IllegalTransitions, type WorkflowRunStatus
} from './state/state.js'
export type { BatchProgressData, EvictionCandidates, QueueStatisticsData, WorkflowStatusData }

/** One device's reliability as GET /v1/nodes and `retire-cluster nodes` show it. */
export interface DeviceReliabilityView {
  deviceId: string
  /** R = (s+3)/(s+f+4) of the decayed counts: 0.75 for a device never seen */
  score: number
  successes: number
  failures: number
  health: DeviceHealth
  /** ms since epoch, while quarantined */
  quarantinedUntil?: number
  /** quarantines within the last quarantineHistoryMs (each doubles the next one's length) */
  quarantines: number
}

export class ClusterState {
  private s: State

  constructor (opts: ClusterStateOptions = {}) {
    this.s = createState(opts)
  }

  apply (cmd: Command, index: number): ApplyOutcome {
    const s = this.s
    if (index > s.appliedIndex) s.appliedIndex = index
    const events: ClusterEvent[] = []
    if (cmd === null || typeof cmd !== 'object') return { events, reply: errorReply('invalid_payload', 'command must be an object') }
    const at = (cmd as { at?: unknown }).at
    if (typeof at === 'number' && Number.isFinite(at)) s.applyAt = at
    const step = stepFor(cmd.type)
    if (step === undefined) return { events, reply: errorReply('invalid_payload', `unknown command type '${String((cmd as { type?: unknown }).type)}'`, 'type') }
    const out = { events, ...step(s, cmd, events) }
    if (s.toFreeze.length > 0) freezeEnded(s)
    return out
  }

  get appliedIndex (): number { return this.s.appliedIndex }
  set appliedIndex (index: number) { this.s.appliedIndex = index }
  get counts (): Record<TaskStatus, number> { return this.s.counts }
  /** tasks evicted since the cluster began */
  get evictedTotal (): number { return this.s.evictedTotal }
  get size (): number { return this.s.tasks.size }
  get readySize (): number { return this.s.queue.size }

  // ───────────────────────────── queries ─────────────────────────────

  /** The record (live object: do not mutate). The leader's local pendingReason is merged in. */
  getTask (id: string): TaskRecord | undefined { return getTask(this.s, id) }

  /** Follows replacedBy links to the task that carries the work now (itself if never failed over). */
  latest (id: string): TaskRecord | undefined { return latest(this.s, id) }

  /**
   * Tasks matching the filter, oldest first (submission order) or newest first; `limit` cuts after
   * ordering. The per-device index holds only live (queued/running) tasks, so it serves only those.
   */
  listTasks (filter: TaskFilter = {}): TaskRecord[] { return listTasks(this.s, filter) }

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
  readyIterator (now: number): Generator<TaskRecord> { return readyIterator(this.s, now) }

  runningOn (deviceId: string): TaskRecord[] {
    const set = this.s.onDevice.get(deviceId)
    return set === undefined ? [] : [...set].map(id => this.s.tasks.get(id) as TaskRecord)
  }

  /** How many tasks are queued/running on a device (no allocation). */
  runningCount (deviceId: string): number { return this.s.onDevice.get(deviceId)?.size ?? 0 }

  /** Devices that have queued/running tasks (for down-device detection without a scan). */
  devicesWithTasks (): string[] { return [...this.s.onDevice.keys()] }

  /** Number of queued/running tasks per device (the scheduler's in-flight baseline). */
  inflightByDevice (): Map<string, number> {
    const m = new Map<string, number>()
    for (const [d, set] of this.s.onDevice) m.set(d, set.size)
    return m
  }

  /** how many tasks are queued or running (activeTasks().length without building the list) */
  get activeCount (): number { return this.s.byStatus.get('queued')!.size + this.s.byStatus.get('running')!.size }

  activeTasks (): TaskRecord[] {
    return [...this.s.byStatus.get('queued')!, ...this.s.byStatus.get('running')!].map(id => this.s.tasks.get(id) as TaskRecord)
  }

  queueStatistics (now: number): QueueStatisticsData { return queueStatistics(this.s, now) }
  batchProgress (id: string): BatchProgressData | undefined { return batchProgress(this.s, id) }
  batchTaskIds (id: string): string[] | undefined { return this.s.batches.get(id)?.taskIds.slice() }
  workflowStatus (id: string): WorkflowStatusData | undefined { return workflowStatus(this.s, id) }

  /**
   * Would these submits, applied in order now, insert every task as new (nothing refused, no
   * duplicate, no workflow, chunk or idempotency key)? See state/submit.ts submitsInsertAll.
   */
  submitsInsertAll (cmds: ReadonlyArray<Extract<Command, { type: 'submit' }>>): boolean { return submitsInsertAll(this.s, cmds) }

  /** Chunked batches staged and not yet sealed: batch id → tasks staged so far. */
  stagedBatches (): Map<string, number> { return stagedBatches(this.s) }

  /** The leader's explanation for a pending task (not replicated); undefined clears it. */
  setPendingReason (id: string, reason: string | undefined): void {
    if (reason === undefined) this.s.localReasons.delete(id)
    else if (this.s.tasks.get(id)?.status === 'pending') this.s.localReasons.set(id, reason)
  }

  // ───────────────────────────── reliability, preemption ─────────────────────────────

  /** 'quarantined' (no new work), 'probation' (one task at a time) or 'ok', at `now`. */
  deviceHealth (deviceId: string, now: number): DeviceHealth { return healthAt(this.s.reliability.get(deviceId), now) }

  /** The reliability term of placing a task of `taskType` on the device (0..1; 0.75 unknown). */
  placementReliability (deviceId: string, taskType: string, now: number): number {
    return placementReliability(this.s.reliability.get(deviceId), taskType, now, reliabilityConfigOf(this.s))
  }

  /** Ready tasks submitted at `priority` or more urgent (O(levels); the preemption planner's early exit). */
  readyAtOrAbove (priority: number): number {
    let n = 0
    for (let p = 1; p <= priority; p++) n += this.s.queue.countAt(p)
    return n
  }

  /** Are any devices tracked? (the scheduler skips the reliability lookups on a fresh cluster) */
  get hasReliability (): boolean { return this.s.reliability.size > 0 }

  reliabilityConfig (): ReliabilityConfig { return reliabilityConfigOf(this.s) }
  preemptionConfig (): PreemptionConfig { return preemptionConfig(this.s.settings.preemption) }

  /** Every tracked device's reliability at `now` (undefined id: all), sorted by device id. */
  deviceReliability (now: number, deviceId?: string): DeviceReliabilityView[] {
    const cfg = reliabilityConfigOf(this.s)
    const out: DeviceReliabilityView[] = []
    for (const r of this.s.reliability.values()) {
      if (deviceId !== undefined && r.deviceId !== deviceId) continue
      const c = countsAt(r, now, cfg.halfLifeMs)
      const health = healthAt(r, now)
      const v: DeviceReliabilityView = {
        deviceId: r.deviceId,
        score: reliabilityScore(c),
        successes: c.successes,
        failures: c.failures,
        health,
        quarantines: r.quarantines.filter(t => t >= now - cfg.quarantineHistoryMs).length
      }
      if (health === 'quarantined') v.quarantinedUntil = r.quarantinedUntil
      out.push(v)
    }
    return out.sort((a, b) => a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0)
  }

  // ───────────────────────────── roles, settings, retention ─────────────────────────────

  /**
   * A principal's role: an explicit setRole wins; otherwise 'local-admin' (the node's own API token)
   * and principals named 'admin:<...>' are admins, everyone else is a submitter.
   */
  roleOf (principal: string): Role { return roleOf(this.s, principal) }

  /** The replicated cluster settings (a copy). */
  clusterSettings (): ClusterSettings { return clusterSettings(this.s) }

  /** The rate-limit rules (the live array: a new one after every change, so identity says "changed"). */
  get rateLimits (): readonly RateLimitRule[] | undefined { return this.s.settings.rateLimits }
  get retentionMs (): number { return retentionMsOf(this.s) }
  get maxQueueSize (): number { return maxQueueSizeOf(this.s) }
  /** terminal records kept at most (settings.maxRetainedTasks or its default) */
  get maxRetainedTasks (): number { return maxRetainedTasksOf(this.s) }

  /**
   * Was this id (a task id, or 'batch:<id>' / 'workflow:<id>') evicted? Exact for the newest
   * MAX_EVICTED_TOMBSTONES evictions; an unknown task id whose time is at or before the newest
   * forgotten tombstone is taken as evicted too (it is older than anything the cluster still keeps
   * track of). Call only for ids that are not in the state.
   */
  wasEvicted (id: string): boolean { return wasEvicted(this.s, id) }

  /**
   * What the leader may evict at `now`: standalone task chains, batches and workflows whose every
   * task has ended and expired, then, while the terminal records are over maxRetainedTasks, the
   * oldest ended ones (by endedAt, then id) expired or not; about `max` tasks in all (the last unit
   * may go over). Walks only index entries (at most `maxVisit` per pass), never all tasks.
   */
  evictionCandidates (now: number, max: number, maxVisit = 4 * max): EvictionCandidates {
    return evictionCandidates(this.s, now, max, maxVisit)
  }

  /**
   * Status changes outside src/sched/status.ts's table since this replica started or restored
   * (a bug in a command's guard: see setStatus in state/records.ts). 0 in a correct build.
   */
  illegalTransitions (): IllegalTransitions {
    const t = this.s.illegalTransitions
    return t.last === undefined ? { count: t.count } : { count: t.count, last: { ...t.last } }
  }

  // ───────────────────────────── snapshot ─────────────────────────────

  /**
   * A plain-object image of the replicated state (msgpackr-friendly). It shares objects with the
   * live state: encode it before applying further commands.
   */
  snapshot (): Snapshot { return takeSnapshot(this.s) }

  static restore (snap: unknown, opts: ClusterStateOptions = {}): ClusterState {
    const st = new ClusterState(opts)
    st.s = restoreState(snap, opts)
    return st
  }

  /** restore() a slice of `sliceItems` records per next(), for a caller that takes turns in between */
  static * restoreInSteps (snap: unknown, sliceItems: number, opts: ClusterStateOptions = {}): Generator<void, ClusterState, void> {
    const st = new ClusterState(opts)
    st.s = yield * restoreSteps(snap, opts, sliceItems)
    return st
  }
}
