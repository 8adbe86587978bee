// The worker side of a node: runs what the leader assigns, reports progress and results, and
// resends each result until the leader says it is committed. Results are keyed by (task, attempt),
// so a resend or a re-dispatch after a leader change never runs or records anything twice.
//
// "Committed" is not "applied": a leader dispatches an assignment while it commits, so a fast
// worker's result can reach the log *before* that assignment (or before the next leader's copy of
// it). The state machine cannot apply a result for an attempt it has not seen assigned, and drops
// it. So an assignment repeated after its result was acknowledged means "tell me again": the worker
// answers with the outcome it recorded (kept for a while), and only runs it afresh once it forgot.
import type { AttemptResult } from '../../sched/commands.js'
import { fitResult, resultBytes } from '../../protocol/fit-result.js'
import { TaskQueue } from '../../sched/queue.js'
import { TRACE_ON, traceMark } from '../trace.js'
import type { ResourceUsage, TaskData } from '../../sched/types.js'
import type { TaskExecutor } from '../executor/executor.js'
import type { Logger } from '../log.js'
import { realScheduler, type CancelTimer, type Scheduler } from '../scheduler.js'

/** what the worker needs of an executor (the seeded simulator runs a simulated one) */
export type WorkerExecutor = Pick<TaskExecutor, 'maxConcurrentTasks' | 'freeSlots' | 'execute' | 'cancel'>

export interface Assignment { taskId: string, attempt: number, task: TaskData }
export interface AssignReply { taskId: string, attempt: number, accepted: boolean, reason?: string }

export interface WorkerLink {
  /** send results to the current leader; resolves with the keys it committed */
  sendResults: (results: AttemptResult[]) => Promise<string[]>
  sendStarted: (taskId: string, attempt: number, at: number) => void
  sendProgress: (taskId: string, attempt: number, progress: number, usage?: ResourceUsage) => void
}

/** report 'started' only for tasks still running after this long: fast tasks skip a log entry */
const START_REPORT_DELAY_MS = 100
/** at most one progress report per task per this many ms */
const PROGRESS_INTERVAL_MS = 250
/** results sent per request, and about this many bytes of them (at least one): under the frame cap */
const RESULT_BATCH = 1000
const RESULT_BATCH_BYTES = 1024 * 1024
const RESEND_DELAY_MS = 300

/**
 * A worker accepts up to this many times its slots: the extra wait in a local FIFO and start the
 * moment a slot frees, so a slot never idles for a leader round-trip (Celery's prefetch). How deep
 * the leader actually fills it depends on how long tasks run (see leader/prefetch.ts).
 */
export const MAX_PREFETCH_MULTIPLIER = 512

/**
 * Acknowledged outcomes kept to answer a repeated assignment (see the top of the file): a repeat
 * comes within a leader change or a partition, seconds after the ack. Bounded in count and age;
 * a repeat after that runs the attempt again (execution is at-least-once, the outcome once).
 */
const DONE_KEEP_MAX = 10_000
const DONE_KEEP_MS = 10 * 60_000

const key = (taskId: string, attempt: number): string => `${taskId}:${attempt}`

interface Waiting { id: string, priority: number, assignment: Assignment }

export class Worker {
  private readonly running = new Map<string, { startedReported: boolean, lastProgressAt: number }>()
  /**
   * Accepted and waiting for a slot (prefetched), by key, in the order they start: by priority with
   * the cluster queue's aging, so prefetched LOW work never runs before URGENT work that arrived
   * later (a FIFO here inverted priorities).
   */
  private readonly waiting: TaskQueue<Waiting> = new TaskQueue<Waiting>({ maxSize: Number.MAX_SAFE_INTEGER })
  private readonly unacked = new Map<string, AttemptResult>()
  private readonly inflight = new Set<string>()
  /**
   * Results being sent when their assignment came again: that send may be committed before the
   * assignment and dropped, so once it is acknowledged the result is sent once more (it then lands
   * after the assignment in the log). Found by the fault soak (seed 11: a hand-over mid-batch).
   */
  private readonly resendAfterAck = new Set<string>()
  /** acknowledged outcomes, oldest first: a repeated assignment is answered from here, not rerun */
  private readonly done = new Map<string, { result: AttemptResult, at: number }>()
  private flushing = false
  private resendTimer?: CancelTimer
  private stopped = false

  constructor (
    private readonly selfId: string,
    private readonly executor: WorkerExecutor,
    private readonly link: WorkerLink,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /** timers (the seeded simulator passes simulated time) */
    private readonly sched: Scheduler = realScheduler
  ) {}

  get activeCount (): number { return this.running.size + this.waiting.size }
  get capacity (): number { return this.executor.maxConcurrentTasks * MAX_PREFETCH_MULTIPLIER }
  get unackedCount (): number { return this.unacked.size }
  runningKeys (): string[] { return [...this.running.keys(), ...this.waiting.entries().map(e => e.task.id)] }

  /**
   * What this worker keeps per attempt that a quiescent cluster (every task ended, every result
   * committed) must have emptied, by name, where not empty; `done` is bounded by count and age and
   * not asked. The cluster simulator asks every node once it is quiescent.
   */
  leftovers (): Record<string, number> {
    const sizes: Record<string, number> = {
      running: this.running.size,
      waiting: this.waiting.size,
      unacked: this.unacked.size,
      inflight: this.inflight.size,
      resendAfterAck: this.resendAfterAck.size
    }
    return Object.fromEntries(Object.entries(sizes).filter(([, n]) => n > 0))
  }

  assign (items: Assignment[]): AssignReply[] {
    const replies: AssignReply[] = []
    for (const it of items) {
      const k = key(it.taskId, it.attempt)
      traceMark(it.taskId, 'worker.received')
      this.recall(k)
      if (this.running.has(k) || this.waiting.has(k) || this.unacked.has(k)) {
        replies.push({ taskId: it.taskId, attempt: it.attempt, accepted: true })
        if (this.inflight.has(k)) this.resendAfterAck.add(k)
        if (this.unacked.has(k)) this.scheduleFlush(0)
        continue
      }
      // a newer attempt of a task this node still holds: the leader gave up on the older one
      // (expired while it waited here or ran long); stop it, its result would be stale anyway
      if (it.attempt > 1) this.supersede(it.taskId, it.attempt) // a first attempt supersedes nothing: no scan of the queue
      if (this.stopped || this.activeCount >= this.capacity) {
        replies.push({ taskId: it.taskId, attempt: it.attempt, accepted: false, reason: this.stopped ? 'node stopping' : 'no free slot' })
        continue
      }
      replies.push({ taskId: it.taskId, attempt: it.attempt, accepted: true })
      this.waiting.enqueue({ id: k, priority: it.task.priority, assignment: it }, this.now())
    }
    this.startWaiting()
    return replies
  }

  /**
   * An assignment of an attempt whose outcome was acknowledged: the leader asks again because the
   * result was committed before the assignment and dropped (see the top of the file). Put the
   * recorded outcome back to be sent; it applies now that the assignment is in the log.
   */
  private recall (k: string): void {
    const d = this.done.get(k)
    if (d === undefined) return
    this.done.delete(k)
    if (this.now() - d.at > DONE_KEEP_MS) return // too old to trust our memory: run it again
    this.unacked.set(k, d.result)
  }

  private startWaiting (): void {
    while (this.executor.freeSlots > 0) {
      const w = this.waiting.dequeue(this.now())
      if (w === undefined) return
      this.run(w.assignment)
    }
  }

  /** older attempts of taskId waiting or running here end as cancelled (superseded) */
  private supersede (taskId: string, attempt: number): void {
    for (const k of this.running.keys()) {
      const at = k.lastIndexOf(':') // keys are `${taskId}:${attempt}`, and a task id may hold ':'
      if (k.slice(0, at) !== taskId) continue
      const older = Number(k.slice(at + 1))
      if (older < attempt) this.executor.cancel(taskId, older)
    }
    for (const { task: { id: k, assignment: it } } of this.waiting.entries()) {
      if (it.taskId !== taskId || it.attempt >= attempt) continue
      this.waiting.remove(k)
      this.cancelledWaiting(k, taskId, it.attempt, `superseded by attempt ${attempt}`)
    }
  }

  /**
   * Stops the task's `attempt` waiting or running here: it ends cancelled. A newer attempt of the
   * same task placed here meanwhile is left alone. By key, no scan: every attempt that ends in the
   * log on this device comes here as its node applies it (ExecService.appliedHere), most of them
   * this worker's own results.
   */
  cancel (taskId: string, attempt: number): boolean {
    const k = key(taskId, attempt)
    if (this.waiting.remove(k)) { this.cancelledWaiting(k, taskId, attempt, 'cancelled before it started'); return true }
    return this.running.has(k) && this.executor.cancel(taskId, attempt)
  }

  /** an attempt taken out of the waiting queue ends cancelled, reported as any result */
  private cancelledWaiting (k: string, taskId: string, attempt: number, message: string): void {
    const t = this.now()
    this.unacked.set(k, { taskId, attempt, deviceId: this.selfId, status: 'cancelled', error: { type: 'cancelled', message }, startedAt: t, finishedAt: t })
    this.scheduleFlush(0)
  }

  private run (it: Assignment): void {
    const k = key(it.taskId, it.attempt)
    const st = { startedReported: false, lastProgressAt: 0, lastProgress: -1 }
    this.running.set(k, st)
    traceMark(it.taskId, 'worker.started')
    const startTimer = this.sched.timeout(() => {
      if (!this.running.has(k)) return
      st.startedReported = true
      this.link.sendStarted(it.taskId, it.attempt, this.now())
    }, START_REPORT_DELAY_MS, { unref: true })
    this.executor.execute(it.task, {
      attempt: it.attempt, // handlers see the cluster's attempt number (ctx.attempt)
      onProgress: (pct, usage) => {
        const t = this.now()
        // 100 % goes at once (the end of the work should show), but only once: a handler calling
        // progress(100) in a loop sent the leader a message per call
        if (t - st.lastProgressAt < PROGRESS_INTERVAL_MS && (pct < 100 || st.lastProgress >= 100)) return
        st.lastProgressAt = t
        st.lastProgress = pct
        this.link.sendProgress(it.taskId, it.attempt, pct, usage)
      }
    }).then(out => {
      startTimer()
      this.running.delete(k)
      traceMark(it.taskId, 'worker.finished')
      const r: AttemptResult = {
        taskId: it.taskId,
        attempt: it.attempt,
        deviceId: this.selfId,
        status: out.status,
        startedAt: out.startedAt,
        finishedAt: out.finishedAt
      }
      if (out.result !== undefined) r.result = out.result
      if (out.error !== undefined) r.error = out.error
      if (out.resourceUsage !== undefined) r.resourceUsage = out.resourceUsage
      this.unacked.set(k, fitResult(r))
      this.scheduleFlush(0)
      this.startWaiting()
    }, err => {
      // execute() never rejects by contract; if it does, report it as a failed attempt
      startTimer()
      this.running.delete(k)
      const t = this.now()
      this.unacked.set(k, fitResult({ taskId: it.taskId, attempt: it.attempt, deviceId: this.selfId, status: 'failed', error: { type: 'execution_error', message: String((err as Error)?.message ?? err) }, startedAt: t, finishedAt: t }))
      this.scheduleFlush(0)
      this.startWaiting()
    })
  }

  /** the leader changed: resend everything not yet acknowledged */
  leaderChanged (): void { this.scheduleFlush(0) }

  private scheduleFlush (delayMs: number): void {
    if (this.stopped || this.flushing) return
    if (delayMs === 0) {
      if (this.resendTimer !== undefined) { this.resendTimer(); this.resendTimer = undefined }
      this.flushing = true
      this.sched.immediate(() => { void this.flush() })
      return
    }
    if (this.resendTimer !== undefined) return
    this.resendTimer = this.sched.timeout(() => { this.resendTimer = undefined; this.scheduleFlush(0) }, delayMs, { unref: true })
  }

  private async flush (): Promise<void> {
    try {
      while (!this.stopped) {
        const batch: AttemptResult[] = []
        let bytes = 0
        for (const [k, r] of this.unacked) {
          if (this.inflight.has(k)) continue
          const size = resultBytes(r)
          if (batch.length > 0 && bytes + size > RESULT_BATCH_BYTES) break
          batch.push(r)
          bytes += size
          this.inflight.add(k)
          if (batch.length >= RESULT_BATCH) break
        }
        if (batch.length === 0) return
        if (TRACE_ON) for (const r of batch) traceMark(r.taskId, 'result.sent')
        try {
          const acked = await this.link.sendResults(batch)
          // Nothing committed (a proposal that failed; a leader that has stepped down in Raft but
          // reports it only after its pending fsync, as the pipelined driver does): resend after a
          // pause. Resending at once spun without end when that leader is this very node (the
          // results go to it in-process): found by the cluster simulation, seed 80.
          if (acked.length === 0) throw new Error('the leader committed none of these results')
          for (const k of acked) {
            if (this.resendAfterAck.delete(k)) continue // stays unacked: sent again in this loop
            const r = this.unacked.get(k)
            this.unacked.delete(k)
            if (r !== undefined) this.remember(k, r)
          }
        } catch (err) {
          this.log.debug('result report failed; will resend', (err as Error).message)
          for (const r of batch) this.inflight.delete(key(r.taskId, r.attempt))
          this.flushing = false
          this.scheduleFlush(RESEND_DELAY_MS)
          return
        } finally {
          for (const r of batch) this.inflight.delete(key(r.taskId, r.attempt))
        }
      }
    } finally {
      this.flushing = false
      if (this.unacked.size > 0 && this.resendTimer === undefined && !this.stopped) this.scheduleFlush(RESEND_DELAY_MS)
    }
  }

  private remember (k: string, result: AttemptResult): void {
    const now = this.now()
    this.done.delete(k) // re-insert at the end: the map stays oldest first
    this.done.set(k, { result, at: now })
    for (const [old, d] of this.done) {
      if (this.done.size <= DONE_KEEP_MAX && now - d.at <= DONE_KEEP_MS) break
      this.done.delete(old)
    }
  }

  stop (): void {
    this.stopped = true
    this.resendTimer?.()
  }
}
