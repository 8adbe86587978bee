// The worker side of a node: runs what the leader assigns, reports progress and results, and
// resends each result until the leader says it is committed. Results are keyed by (task, attempt),
// so a resend or a re-dispatch after a leader change never runs or records anything twice.
import type { AttemptResult } from '../../sched/commands.js'
import type { ResourceUsage, TaskData } from '../../sched/types.js'
import type { TaskExecutor } from '../executor/executor.js'
import type { Logger } from '../log.js'

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
/** results sent per request */
const RESULT_BATCH = 1000
const RESEND_DELAY_MS = 300

/**
 * A worker accepts up to this many times its slots: the extra wait in a local FIFO and start the
 * moment a slot frees, so a slot never idles for a leader round-trip (Celery's prefetch). How deep
 * the leader actually fills it depends on how long tasks run (see leader/prefetch.ts).
 */
export const MAX_PREFETCH_MULTIPLIER = 512

const key = (taskId: string, attempt: number): string => `${taskId}:${attempt}`

export class Worker {
  private readonly running = new Map<string, { startedReported: boolean, lastProgressAt: number }>()
  /** accepted, waiting for a slot (prefetched) */
  private readonly waiting = new Map<string, Assignment>()
  private readonly unacked = new Map<string, AttemptResult>()
  private readonly inflight = new Set<string>()
  /** recently acknowledged keys: a duplicate assignment of a finished attempt is accepted, not rerun */
  private readonly done = new Set<string>()
  private flushing = false
  private resendTimer?: ReturnType<typeof setTimeout>
  private stopped = false

  constructor (
    private readonly selfId: string,
    private readonly executor: TaskExecutor,
    private readonly link: WorkerLink,
    private readonly log: Logger,
    private readonly now: () => number = Date.now
  ) {}

  get activeCount (): number { return this.running.size + this.waiting.size }
  get capacity (): number { return this.executor.maxConcurrentTasks * MAX_PREFETCH_MULTIPLIER }
  get unackedCount (): number { return this.unacked.size }
  runningKeys (): string[] { return [...this.running.keys(), ...this.waiting.keys()] }

  assign (items: Assignment[]): AssignReply[] {
    const replies: AssignReply[] = []
    for (const it of items) {
      const k = key(it.taskId, it.attempt)
      if (this.running.has(k) || this.waiting.has(k) || this.unacked.has(k) || this.done.has(k)) {
        replies.push({ taskId: it.taskId, attempt: it.attempt, accepted: true })
        if (this.unacked.has(k)) this.scheduleFlush(0)
        continue
      }
      if (this.stopped || this.activeCount >= this.capacity) {
        replies.push({ taskId: it.taskId, attempt: it.attempt, accepted: false, reason: this.stopped ? 'node stopping' : 'no free slot' })
        continue
      }
      replies.push({ taskId: it.taskId, attempt: it.attempt, accepted: true })
      this.waiting.set(k, it)
    }
    this.startWaiting()
    return replies
  }

  private startWaiting (): void {
    for (const [k, it] of this.waiting) {
      if (this.executor.freeSlots <= 0) return
      this.waiting.delete(k)
      this.run(it)
    }
  }

  cancel (taskId: string): boolean {
    for (const [k, it] of this.waiting) {
      if (it.taskId !== taskId) continue
      this.waiting.delete(k)
      const t = this.now()
      this.unacked.set(k, { taskId, attempt: it.attempt, deviceId: this.selfId, status: 'cancelled', error: { type: 'cancelled', message: 'cancelled before it started' }, startedAt: t, finishedAt: t })
      this.scheduleFlush(0)
      return true
    }
    return this.executor.cancel(taskId)
  }

  private run (it: Assignment): void {
    const k = key(it.taskId, it.attempt)
    const st = { startedReported: false, lastProgressAt: 0 }
    this.running.set(k, st)
    const startTimer = setTimeout(() => {
      if (!this.running.has(k)) return
      st.startedReported = true
      this.link.sendStarted(it.taskId, it.attempt, this.now())
    }, START_REPORT_DELAY_MS)
    startTimer.unref?.()
    this.executor.execute(it.task, {
      attempt: it.attempt, // handlers see the cluster's attempt number (ctx.attempt)
      onProgress: (pct, usage) => {
        const t = this.now()
        if (t - st.lastProgressAt < PROGRESS_INTERVAL_MS && pct < 100) return
        st.lastProgressAt = t
        this.link.sendProgress(it.taskId, it.attempt, pct, usage)
      }
    }).then(out => {
      clearTimeout(startTimer)
      this.running.delete(k)
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
      this.unacked.set(k, r)
      this.scheduleFlush(0)
      this.startWaiting()
    }, err => {
      // execute() never rejects by contract; if it does, report it as a failed attempt
      clearTimeout(startTimer)
      this.running.delete(k)
      const t = this.now()
      this.unacked.set(k, { taskId: it.taskId, attempt: it.attempt, deviceId: this.selfId, status: 'failed', error: { type: 'execution_error', message: String((err as Error)?.message ?? err) }, startedAt: t, finishedAt: t })
      this.scheduleFlush(0)
      this.startWaiting()
    })
  }

  /** the leader changed: resend everything not yet acknowledged */
  leaderChanged (): void { this.scheduleFlush(0) }

  private scheduleFlush (delayMs: number): void {
    if (this.stopped || this.flushing) return
    if (delayMs === 0) {
      if (this.resendTimer !== undefined) { clearTimeout(this.resendTimer); this.resendTimer = undefined }
      this.flushing = true
      setImmediate(() => { void this.flush() })
      return
    }
    if (this.resendTimer !== undefined) return
    this.resendTimer = setTimeout(() => { this.resendTimer = undefined; this.scheduleFlush(0) }, delayMs)
    this.resendTimer.unref?.()
  }

  private async flush (): Promise<void> {
    try {
      while (!this.stopped) {
        const batch: AttemptResult[] = []
        for (const [k, r] of this.unacked) {
          if (this.inflight.has(k)) continue
          batch.push(r)
          this.inflight.add(k)
          if (batch.length >= RESULT_BATCH) break
        }
        if (batch.length === 0) return
        try {
          const acked = await this.link.sendResults(batch)
          for (const k of acked) { this.unacked.delete(k); this.remember(k) }
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

  private remember (k: string): void {
    this.done.add(k)
    // bounded memory: forget the oldest half once large (a re-dispatch that late is committed anyway)
    if (this.done.size > 50_000) {
      let n = 25_000
      for (const old of this.done) { this.done.delete(old); if (--n === 0) break }
    }
  }

  stop (): void {
    this.stopped = true
    if (this.resendTimer !== undefined) clearTimeout(this.resendTimer)
  }
}
