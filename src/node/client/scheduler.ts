// `node.scheduler`: the public face of the cluster on every node. Writes go to the leader (directly
// when we are it, else over /retire-cluster/client), retried through elections under one request id
// so the state machine records a retried submission once. Reads come from this node's applied state;
// task records get the leader's live fields (progress, pendingReason) through live-fields.ts.
import { parseTaskSpec, Task } from '../../sched/task.js'
import type { Rng } from '../../sched/rng.js'
import type { ApplyOutcome, BatchChunk, ClusterEvent, ClusterSettings, ClusterSettingsPatch, Command, TaskRecord, Role, WorkflowInfo, BatchInfo } from '../../sched/commands.js'
import type { TaskData, TaskStatus } from '../../sched/types.js'
import { TERMINAL_STATUSES } from '../../sched/types.js'
import type {
  BatchProgress, ClusterScheduler, QueueStatistics, SubmitOptions, TaskLifecycleHandler, TaskMetrics, WorkflowStatus
} from '../api-types.js'
import type { ClusterCore } from '../cluster/core.js'
import { EvictedError, NodeError, NoLeaderError, NotFoundError, WaitTimeoutError } from '../errors.js'
import type { LeaderLoop } from '../leader/leader.js'
import { toWorkflowInfo, toBatch } from './inputs.js'
import type { TaskHistory } from './history.js'
import { planChunks } from './chunks.js'
import { LiveTaskReader } from './live-fields.js'
import { TRACE_ON, traceMark } from '../trace.js'
import { realScheduler, type Scheduler } from '../scheduler.js'

export interface SchedulerDeps {
  nodeId: string
  core: ClusterCore
  leader: LeaderLoop
  isLeader: () => boolean
  /** send a client request to the leader; rejects with NoLeaderError when there is none */
  leaderRequest: (type: string, body: Record<string, unknown>, timeoutMs: number) => Promise<any>
  /** the leader this node knows of, and a subscription to its changes (returns unsubscribe): a write
   * forwarded to a leader that is then replaced is sent again to the new one at once */
  leaderId?: () => string | null
  onLeaderChange?: (listener: () => void) => () => void
  now: () => number
  rng: Rng
  history: TaskHistory
  /** principal used when the caller names none (the local node's operator) */
  localPrincipal: string
  /** why this node cannot take writes at all right now (e.g. 'disk full'), or undefined */
  unavailable?: () => string | undefined
  /** total time a write keeps retrying through elections. @default 30000 */
  writeDeadlineMs?: number
  /** subscribe to worker progress seen by this node (the leader sees all, a worker its own); returns unsubscribe */
  onProgress?: (listener: (e: { taskId: string, attempt: number, progress: number }) => void) => () => void
  /** timers (the seeded simulator passes simulated time) @default realScheduler */
  scheduler?: Scheduler
}

const RETRY_DELAYS_MS = [50, 100, 200, 400, 800]

export class NodeScheduler implements ClusterScheduler {
  private reqCounter = 0
  private readonly reqPrefix: string
  private readonly waiters = new Map<string, Array<() => void>>()
  /** every read of task records goes through it: replicated record + the leader's live fields */
  private readonly live: LiveTaskReader

  constructor (private readonly d: SchedulerDeps) {
    this.reqPrefix = `${d.nodeId.slice(-12)}:${d.now().toString(36)}:`
    this.live = new LiveTaskReader({ state: () => d.core.state, leader: d.leader, isLeader: d.isLeader, leaderRequest: d.leaderRequest })
    d.core.onEvent(e => { this.wake(e) })
    // A snapshot restored (from the leader: this node was far behind) replaces the state without an
    // event per task: a task that finished inside it would wake no waiter until its timeout (300 s
    // by default). Every waiter looks again; one whose task is not there yet waits on.
    d.core.onRestore(() => { this.wakeAll() })
  }

  // ---- writes ---------------------------------------------------------------------------------

  async submitTask (task: unknown, opts: SubmitOptions = {}): Promise<string> {
    const data = this.toTaskData(task)
    if (opts.idempotencyKey !== undefined) data.idempotencyKey = opts.idempotencyKey
    const ids = await this.submit([data], opts)
    return ids[0]!
  }

  async submitBatch (batch: unknown, opts: SubmitOptions = {}): Promise<{ id: string, taskIds: string[] }> {
    const b = toBatch(batch, t => this.toTaskData(t), () => this.newId())
    const info: BatchInfo = { id: b.id, name: b.name }
    if (b.description !== undefined) info.description = b.description
    for (const t of b.tasks) t.batchId = b.id
    const chunks = planChunks(b.tasks)
    if (chunks.length === 1) return { id: b.id, taskIds: await this.submit(b.tasks, opts, { batch: info }) }
    // Too big for one command: staged chunk by chunk, one at a time (each its own Raft entry, so
    // no entry nears the caps and other work interleaves), then the last chunk seals the batch
    // atomically. Until then nothing is visible or schedulable; if we fail midway the staging is
    // dropped by the state machine (TTL, or our next chunk 0 for this batch id).
    const principal = opts.principal ?? this.d.localPrincipal
    let taskIds: string[] = []
    for (let i = 0; i < chunks.length; i++) {
      const chunk: BatchChunk = { index: i, count: chunks.length }
      taskIds = await this.submit(chunks[i]!, { ...opts, principal }, { batch: info, chunk }, i === chunks.length - 1)
    }
    return { id: b.id, taskIds }
  }

  async submitWorkflow (workflow: unknown, opts: SubmitOptions = {}): Promise<{ id: string, taskIds: string[] }> {
    const wf: WorkflowInfo = toWorkflowInfo(workflow, t => this.toTaskData(t), () => this.newId())
    for (const s of wf.steps) s.task.workflowId = wf.id
    const taskIds = await this.submit([], opts, { workflow: wf })
    return { id: wf.id, taskIds }
  }

  async cancelTask (taskId: string, opts: { principal?: string } = {}): Promise<TaskRecord> {
    const principal = opts.principal ?? this.d.localPrincipal
    const res = await this.write(
      waitMs => this.d.core.proposeAndWait({ type: 'cancel', at: this.d.now(), taskId, principal }, waitMs),
      { type: 'cancel', taskId, principal })
    const task = 'task' in res ? res.task as TaskRecord : this.d.core.state.getTask(taskId)
    if (task === undefined) throw new NotFoundError(`task ${taskId}`)
    return task
  }

  async setRole (principal: string, role: Role | null, opts: { principal?: string } = {}): Promise<void> {
    const by = opts.principal ?? this.d.localPrincipal
    await this.write(
      waitMs => this.d.core.proposeAndWait({ type: 'setRole', at: this.d.now(), principal, role, by }, waitMs),
      { type: 'setRole', principal, role, by })
  }

  /** The cluster's settings as this node has applied them (replicated: every node answers the same once caught up). */
  getSettings (): ClusterSettings {
    return this.d.core.state.clusterSettings()
  }

  /**
   * Change cluster settings (admin only): each field given replaces the current one, null restores
   * its default, fields not given stay. Returns the settings as the leader applied them.
   */
  async updateSettings (patch: ClusterSettingsPatch, opts: { principal?: string } = {}): Promise<ClusterSettings> {
    const by = opts.principal ?? this.d.localPrincipal
    const res = await this.write(
      waitMs => this.d.core.proposeAndWait({ type: 'settings', at: this.d.now(), by, settings: patch }, waitMs),
      { type: 'settings', by, settings: patch })
    return (res.settings as ClusterSettings | undefined) ?? this.d.core.state.clusterSettings()
  }

  /** The submit command, retried through elections with one request id. */
  private async submit (tasks: TaskData[], opts: SubmitOptions, extra: { batch?: BatchInfo, workflow?: WorkflowInfo, chunk?: BatchChunk } = {}, visible = true): Promise<string[]> {
    const requestId = this.reqPrefix + (this.reqCounter++).toString(36)
    const principal = opts.principal ?? this.d.localPrincipal
    const cmd: Command = { type: 'submit', requestId, principal, at: 0, tasks, ...extra }
    if (TRACE_ON) for (const t of tasks) traceMark(t.id, 'submit.sent')
    const res = await this.write(
      waitMs => this.d.core.proposeAndWait({ ...cmd, at: this.d.now() }, waitMs),
      { type: 'submit', requestId, principal, tasks, ...extra },
      waitMs => this.d.core.watch(cmd, waitMs))
    const ids = res.taskIds as string[]
    if (TRACE_ON) for (const id of ids) traceMark(id, 'submit.acked')
    // read-your-writes: a follower answers status queries from its own applied state
    if (visible && ids.length > 0) await this.appliedLocally(ids[ids.length - 1]!, 5000)
    if (TRACE_ON) for (const id of ids) traceMark(id, 'submit.visible')
    return ids
  }

  /**
   * Run a write on the leader: locally if we lead, else forwarded. Retries on "no leader" and
   * transport errors until the deadline; a definite answer (ok or a typed error) ends it. Every
   * wait inside (the local proposal, the leader's proposal for a forwarded request) gets what is
   * left of the deadline, never more.
   * `applied`, when given, waits for this node to apply the forwarded command itself: its outcome
   * is the leader's (the state machine is deterministic), and with commit inference a follower
   * applies at its own fsync, before the leader's answer can be back (src/protocol/raft/commit-inference.ts).
   */
  private async write (local: (waitMs: number) => Promise<ApplyOutcome>, remote: { type: string } & Record<string, unknown>, applied?: (waitMs: number) => Promise<ApplyOutcome>): Promise<any> {
    const deadline = this.d.now() + (this.d.writeDeadlineMs ?? 30_000)
    let attempt = 0
    let lastErr: Error | undefined // built only when needed: an Error's stack capture was ~1 % of a follower's CPU
    while (this.d.now() < deadline) {
      // Out of Raft (its log cannot be written): it knows no leader to forward to, so say so at
      // once — also when it left while this write was in flight (soak seed 93: a leader whose disk
      // filled under a submission retried for no leader until the client gave up).
      const down = this.d.unavailable?.()
      if (down !== undefined) {
        throw new NodeError('unavailable', `this node cannot take writes now (${down}) — submit through another node meanwhile` +
          (attempt > 0 ? ' (this request was in flight when it left Raft and may have committed: retry it with the same idempotency key)' : ''))
      }
      try {
        if (this.d.isLeader()) {
          const out = await local(deadline - this.d.now())
          if (out.reply === undefined) return {}
          if (out.reply.ok) return out.reply
          throw new NodeError(out.reply.error.type, out.reply.error.message, out.reply.error.field)
        }
        const { type, ...body } = remote
        const left = deadline - this.d.now()
        const target = this.d.leaderId?.() ?? null
        const forwarded = this.d.leaderRequest(type, { ...body, waitMs: Math.max(0, Math.floor(left)) }, Math.max(1000, left))
        const racers: Array<Promise<{ res: any } | { out: ApplyOutcome } | { moved: true }>> = [forwarded.then(res => ({ res }))]
        if (applied !== undefined) {
          // a wait that fails (superseded by a retry, timed out, this node halted) leaves the answer to the leader
          const here = applied(left).then(out => ({ out }), async () => ({ res: await forwarded }))
          here.catch(() => {}) // settled after the race, when the forward failed: the race reported it
          racers.push(here)
        }
        // A leader cut off or dead answers nothing until the request times out (5 s and more: soak seed
        // 13 lost its clients' submissions to a partitioned leader while the majority had elected
        // another within 1.4 s). Once this node knows of another leader, or of none, the request goes
        // again: the same requestId makes a second arrival the first one's answer.
        const watch = target !== null ? this.leaderMoves(target) : undefined
        if (watch !== undefined) racers.push(watch.moved.then(() => ({ moved: true as const })))
        let first
        try { first = await Promise.race(racers) } finally { watch?.cancel() }
        if ('moved' in first) {
          forwarded.catch(() => {})
          lastErr = new NoLeaderError(`the leader changed while this ${type} was in flight`)
          // to a leader already known: at once; while there is none, the usual pauses
          if (this.d.leaderId?.() !== null || this.d.isLeader()) continue
          throw lastErr
        }
        if ('out' in first) {
          forwarded.catch(() => {})
          const out = first.out
          if (out.reply === undefined) return {}
          if (out.reply.ok) return out.reply
          throw new NodeError(out.reply.error.type, out.reply.error.message, out.reply.error.field)
        }
        const res = first.res
        if (res.ok === true) return res
        if (res.notLeader === true) throw new NoLeaderError(res.error?.message)
        throw new NodeError(res.error.type, res.error.message, res.error.field)
      } catch (err) {
        if (err instanceof NodeError && err.type !== 'no_leader' && err.type !== 'timeout' && err.type !== 'network_error') throw err
        if (!(err instanceof NodeError)) { lastErr = new NodeError('network_error', (err as Error).message) } else lastErr = err
      }
      const delay = RETRY_DELAYS_MS[Math.min(attempt++, RETRY_DELAYS_MS.length - 1)]!
      await this.sleep(Math.min(delay, Math.max(0, deadline - this.d.now())))
    }
    throw lastErr ?? new NoLeaderError()
  }

  /** resolves once this node's leader is no longer `from` (another, or none); cancel unsubscribes */
  private leaderMoves (from: string): { moved: Promise<void>, cancel: () => void } | undefined {
    const subscribe = this.d.onLeaderChange
    const current = this.d.leaderId
    if (subscribe === undefined || current === undefined) return undefined
    let cancel = (): void => {}
    const moved = new Promise<void>(resolve => {
      cancel = subscribe(() => { if (current() !== from) { cancel(); resolve() } })
    })
    return { moved, cancel: () => { cancel() } }
  }

  // ---- reads ----------------------------------------------------------------------------------

  /**
   * undefined for an unknown id; throws EvictedError (type 'gone', HTTP 410) for one evicted after its
   * retention. `liveFields: false` answers with this node's replicated record alone, without asking
   * the leader for progress and pendingReason (a long-poll that only needs to know where to start).
   */
  async getTaskStatus (taskId: string, opts: { liveFields?: boolean } = {}): Promise<TaskRecord | undefined> {
    const rec = this.d.core.state.getTask(taskId)
    if (rec === undefined) {
      if (this.d.core.state.wasEvicted(taskId)) throw this.missing('task', taskId)
      return undefined
    }
    return opts.liveFields === false ? rec : await this.live.readOne(rec)
  }

  async waitForResult (taskId: string, opts: { timeoutMs?: number } = {}): Promise<TaskRecord> {
    const timeoutMs = opts.timeoutMs ?? 300_000
    const deadline = this.d.now() + timeoutMs
    if (this.d.core.state.getTask(taskId) === undefined && this.d.core.state.wasEvicted(taskId)) throw this.missing('task', taskId)
    if (!await this.appliedLocally(taskId, Math.min(timeoutMs, 5000))) throw new NotFoundError(`task ${taskId}`)
    let id = taskId
    // follow failover clones to the final outcome
    for (let hops = 0; hops < 1000; hops++) {
      const rec = this.d.core.state.getTask(id)
      if (rec === undefined) throw this.missing('task', id)
      if (rec.replacedBy !== undefined) { id = rec.replacedBy; continue }
      if (TERMINAL_STATUSES.has(rec.status) && rec.replacedBy === undefined) return rec
      const left = deadline - this.d.now()
      if (left <= 0 || !await this.taskChanged(id, left)) throw new WaitTimeoutError(`task ${taskId} did not finish within ${timeoutMs} ms`)
    }
    throw new WaitTimeoutError(`task ${taskId}: too many failovers`)
  }

  private sleep (ms: number): Promise<void> {
    return new Promise(resolve => { (this.d.scheduler ?? realScheduler).timeout(resolve, ms) })
  }

  /** resolves true at the next applied event of this task, false on timeout */
  private taskChanged (taskId: string, timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>(resolve => {
      let list = this.waiters.get(taskId)
      if (list === undefined) { list = []; this.waiters.set(taskId, list) }
      const cancel = (this.d.scheduler ?? realScheduler).timeout(() => {
        const l = this.waiters.get(taskId)
        if (l !== undefined) { const i = l.indexOf(done); if (i >= 0) l.splice(i, 1); if (l.length === 0) this.waiters.delete(taskId) }
        resolve(false)
      }, timeoutMs)
      const done = (): void => { cancel(); resolve(true) }
      list.push(done)
    })
  }

  /** one listener for all waiters: wake those of the event's task (and a failover clone's original) */
  private wake (e: ClusterEvent): void {
    if (this.waiters.size === 0) return
    const list = this.waiters.get(e.taskId)
    if (list === undefined) return
    this.waiters.delete(e.taskId)
    for (const fn of list) fn()
  }

  private wakeAll (): void {
    const lists = [...this.waiters.values()]
    this.waiters.clear()
    for (const list of lists) for (const fn of list) fn()
  }

  /** wait (bounded) until this node has applied the task, so reads right after a write see it */
  private async appliedLocally (taskId: string, timeoutMs: number): Promise<boolean> {
    const deadline = this.d.now() + timeoutMs
    while (this.d.core.state.getTask(taskId) === undefined) {
      // woken by a restore that does not hold it yet (it follows the snapshot): wait on
      const left = deadline - this.d.now()
      if (left <= 0 || !await this.taskChanged(taskId, left)) return false
    }
    return true
  }

  async listTasks (filter: { status?: TaskStatus, deviceId?: string, limit?: number, order?: 'oldest' | 'newest' } = {}): Promise<TaskRecord[]> {
    return this.live.read(this.d.core.state.listTasks(filter))
  }

  async getActiveTasks (): Promise<TaskRecord[]> {
    return this.live.read(this.d.core.state.activeTasks())
  }

  async getQueueStatistics (): Promise<QueueStatistics> {
    return this.d.core.state.queueStatistics(this.d.now()) as QueueStatistics
  }

  async getBatchProgress (batchId: string): Promise<BatchProgress> {
    const p = this.d.core.state.batchProgress(batchId)
    if (p === undefined) throw this.missing('batch', batchId)
    return p as BatchProgress
  }

  async getWorkflowStatus (workflowId: string): Promise<WorkflowStatus> {
    const w = this.d.core.state.workflowStatus(workflowId)
    if (w === undefined) throw this.missing('workflow', workflowId)
    return w as WorkflowStatus
  }

  /** the error for a record this node does not hold: gone (410) if it was evicted, else not found */
  private missing (kind: 'task' | 'batch' | 'workflow', id: string): Error {
    const evicted = this.d.core.state.wasEvicted(kind === 'task' ? id : `${kind}:${id}`)
    return evicted ? new EvictedError(`${kind} ${id}`) : new NotFoundError(`${kind} ${id}`)
  }

  async getTaskMetrics (opts: { period?: string } = {}): Promise<TaskMetrics> {
    return this.d.history.metrics(opts.period ?? '24h', this.d.now())
  }

  /**
   * Hooks fire from applied log entries, so every node sees each task's events once and in log
   * order, whoever leads: submit, schedule, start, [progress], complete | error — per attempt for
   * a retried task (error with a retry is followed by schedule and start of the next attempt).
   * Progress is soft state relayed to the leader (and seen by the worker running the task), so
   * onProgress fires only on those nodes, and only while the task is running in this node's
   * applied state: never before onStart or after onComplete/onError.
   */
  addLifecycleHandler (h: TaskLifecycleHandler): () => void {
    const get = (id: string): TaskRecord | undefined => this.d.core.state.getTask(id)
    const offEvents = this.d.core.onEvent(e => { dispatchLifecycle(h, e, get) })
    if (h.onProgress === undefined || this.d.onProgress === undefined) return offEvents
    const offProgress = this.d.onProgress(e => {
      const rec = get(e.taskId)
      if (rec?.status !== 'running' || rec.attempts.length !== e.attempt) return
      dispatchLifecycle(h, { kind: 'progress', taskId: e.taskId, progress: e.progress }, get)
    })
    return () => { offEvents(); offProgress() }
  }

  // ---- helpers --------------------------------------------------------------------------------

  private newId (): string { return Task.idGenerator() }

  private toTaskData (task: unknown): TaskData {
    if (task instanceof Task) return task.toData()
    return parseTaskSpec(task, { now: this.d.now(), rng: this.d.rng })
  }
}

export function dispatchLifecycle (h: TaskLifecycleHandler, e: ClusterEvent | { kind: 'progress', taskId: string, progress: number }, get: (id: string) => TaskRecord | undefined): void {
  const rec = get(e.taskId)
  if (rec === undefined) return
  try {
    switch (e.kind) {
      case 'submit': h.onSubmit?.(rec); break
      case 'schedule': h.onSchedule?.(rec, e.deviceId); break
      case 'start': h.onStart?.(rec); break
      case 'progress': h.onProgress?.(rec, e.progress); break
      case 'complete': h.onComplete?.(rec, e.result); break
      case 'error': h.onError?.(rec, e.error); break
      default: break
    }
  } catch { /* a user's hook must not break the node */ }
}
