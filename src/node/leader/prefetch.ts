// How many tasks beyond its slots the leader places on a device. Every placement costs a Raft
// round-trip (assign committed, dispatched, result committed: a few fsyncs, ~20-30 ms here), so
// for tasks that run in microseconds a slot would idle most of the time unless work is queued on
// the worker ahead of time. For long tasks, prefetching only hurts: work waits behind a long task
// on one device while another idles. So the depth follows the recent execution time.
import { MAX_PREFETCH_MULTIPLIER } from '../worker/worker.js'

/** weight of the newest observation in the moving average */
const ALPHA = 0.05
/**
 * How much work, in milliseconds of execution, to keep queued per slot: a few log round-trips'
 * worth (each is 1-3 fsyncs, 10-50 ms on a slow disk), so a slot never idles waiting for the log.
 */
const QUEUED_WORK_MS = 250

export class PrefetchDepth {
  /** moving average of execution time, ms; starts as "unknown, assume moderate" */
  private avgMs = 100

  observe (execMs: number): void {
    if (!Number.isFinite(execMs) || execMs < 0) return
    this.avgMs += ALPHA * (execMs - this.avgMs)
  }

  /**
   * slots × multiplier is what the scheduler may place on a device: ~QUEUED_WORK_MS of work per
   * slot, at least the slot itself (long tasks are placed only on a free slot, for balance).
   */
  get multiplier (): number {
    return Math.max(1, Math.min(MAX_PREFETCH_MULTIPLIER, Math.floor(QUEUED_WORK_MS / Math.max(this.avgMs, 0.25))))
  }

  get averageMs (): number { return this.avgMs }
}
