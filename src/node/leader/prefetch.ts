// How many tasks beyond its slots the leader places on a device. Every placement costs a Raft
// round-trip (assign committed, dispatched, result committed), so for tasks that run in
// microseconds a slot would idle most of the time unless work is queued on the worker ahead of
// time. For long tasks, prefetching only hurts: work queued behind a long task on one device waits
// while another device idles, and a later URGENT task cannot overtake it from the cluster queue.
// So execution time is estimated per task type, and:
//  - a task of a type not known to be short is placed only on a free slot (never queued behind);
//  - a slot busy with such a task (or with anything that has run longer than QUEUED_WORK_MS) gets
//    no prefetched work behind it;
//  - the other slots get about QUEUED_WORK_MS of short work each.
import type { TaskRecord } from '../../sched/commands.js'
import type { TaskData } from '../../sched/types.js'
import { MAX_PREFETCH_MULTIPLIER } from '../worker/worker.js'

/** weight of the newest observation in a moving average */
const ALPHA = 0.05
/**
 * How much work, in milliseconds of execution, to keep queued per slot: a few log round-trips'
 * worth, so a slot never idles waiting for the log. Also the line between short and long tasks.
 */
const QUEUED_WORK_MS = 250
/** task types tracked; the least recently observed is forgotten beyond this (bounded memory) */
const MAX_TYPES = 1024
/**
 * A type's longest recent run decays by this factor per observation: one slow run keeps the type
 * out of the prefetch queues for ~20 runs below the line (0.99^20 ≈ 0.82), however fast its average.
 */
const PEAK_DECAY = 0.99

export class PrefetchEstimates {
  /** moving average of execution time per task type, ms, most recently observed last */
  private readonly byType = new Map<string, number>()
  /**
   * longest recent execution per type, ms (decaying): a type is short only while none of its recent
   * runs was long. Found by the fault soak (seed 47): a new leader saw a 'sleep' task of 60 ms first,
   * took the type for short, and queued ~300 tasks of 0.1–3.4 s behind two slots on one device while
   * the others idled; the last of them started 64 s after its assignment.
   */
  private readonly peakByType = new Map<string, number>()
  /** moving average over short tasks of every type: sets the prefetch depth */
  private shortAvgMs = 100

  observe (taskType: string, execMs: number): void {
    if (!Number.isFinite(execMs) || execMs < 0) return
    const prev = this.byType.get(taskType)
    // the first observation sets the average: one sample says more than the prior
    const avg = prev === undefined ? execMs : prev + ALPHA * (execMs - prev)
    this.byType.delete(taskType)
    this.byType.set(taskType, avg)
    const peak = Math.max(execMs, (this.peakByType.get(taskType) ?? 0) * PEAK_DECAY)
    this.peakByType.set(taskType, peak)
    if (this.byType.size > MAX_TYPES) {
      const oldest = this.byType.keys().next().value as string
      this.byType.delete(oldest)
      this.peakByType.delete(oldest)
    }
    if (avg < QUEUED_WORK_MS && peak < QUEUED_WORK_MS) this.shortAvgMs += ALPHA * (execMs - this.shortAvgMs)
  }

  /** estimated execution time of a type, ms; undefined until one has finished */
  estimateMs (taskType: string): number | undefined { return this.byType.get(taskType) }

  /** may this task wait in a worker's queue behind others? only if its type is known to be short */
  isShort (task: TaskData): boolean {
    const ms = this.byType.get(task.taskType)
    return ms !== undefined && ms < QUEUED_WORK_MS && (this.peakByType.get(task.taskType) ?? 0) < QUEUED_WORK_MS
  }

  /** does this placed task hold its slot for long (so nothing should be queued behind it)? */
  holdsSlot (rec: TaskRecord, now: number): boolean {
    if (!this.isShort(rec.task)) return true
    const att = rec.attempts[rec.attempts.length - 1]
    return rec.status === 'running' && att?.startedAt !== undefined && now - att.startedAt > QUEUED_WORK_MS
  }

  /** prefetch depth per slot for short work */
  get multiplier (): number {
    return Math.max(1, Math.min(MAX_PREFETCH_MULTIPLIER, Math.floor(QUEUED_WORK_MS / Math.max(this.shortAvgMs, 0.25))))
  }

  /**
   * What the scheduler may place on a device with `slots` slots holding `placed`: slots held by
   * long tasks count once, every other slot `multiplier` times.
   */
  capacity (slots: number, placed: readonly TaskRecord[], now: number): number {
    let held = 0
    for (const rec of placed) {
      if (this.holdsSlot(rec, now) && ++held >= slots) break
    }
    return held + (slots - held) * this.multiplier
  }
}
