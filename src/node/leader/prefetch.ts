// How many tasks beyond its slots the leader places on a device. Every placement costs a Raft
// round-trip (assign committed, dispatched, result committed: a few fsyncs, ~20-30 ms here), so
// for tasks that run in microseconds a slot would idle most of the time unless work is queued on
// the worker ahead of time. For long tasks, prefetching only hurts: work waits behind a long task
// on one device while another idles. So the depth follows the recent execution time.
import { MAX_PREFETCH_MULTIPLIER } from '../worker/worker.js'

/** weight of the newest observation in the moving average */
const ALPHA = 0.05

export class PrefetchDepth {
  /** moving average of execution time, ms; starts as "unknown, assume moderate" */
  private avgMs = 100

  observe (execMs: number): void {
    if (!Number.isFinite(execMs) || execMs < 0) return
    this.avgMs += ALPHA * (execMs - this.avgMs)
  }

  /** slots × multiplier is what the scheduler may place on a device */
  get multiplier (): number {
    if (this.avgMs < 20) return MAX_PREFETCH_MULTIPLIER  // trivial tasks: keep the pipe full
    if (this.avgMs < 200) return 8
    if (this.avgMs < 2000) return 2
    return 1                                             // long tasks: place only on a free slot
  }

  get averageMs (): number { return this.avgMs }
}
