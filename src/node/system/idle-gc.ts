// Give memory back once a busy node goes quiet (issue 14).
//
// Measured on 3 node processes after 100k echo tasks with a 10 s retention, every record evicted and
// 40 s idle: heapUsed 208–261 MB and RSS 400–500 MB per node, of which a full GC freed all but 40 MB
// of heap (RSS fell to ~270–350 MB within 20 s, as V8 shrank its heap). There was nothing live to
// free: V8 collects the old generation only under allocation pressure, and an idle node allocates
// ~1–2 MB/s, so the garbage of the busy hour stays resident for hours. On an old phone that is the
// difference between a node and the owner's apps being killed.
//
// So: when a node that was busy has applied nothing for `idleMs`, and the heap holds well more than
// it did after the last collection, run one full GC. Once per quiet period; never while working
// (a full GC of a few hundred MB pauses the event loop for tens of ms, which idle costs nothing).
import { setFlagsFromString, getHeapStatistics } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Scheduler, CancelTimer } from '../scheduler.js'

export interface IdleGcOptions {
  /** a counter that moves with work (the node passes the number of applied commands) */
  activity: () => number
  sched: Scheduler
  /** quiet for this long before collecting @default 30 s */
  idleMs?: number
  /** how often to look @default 5 s */
  checkMs?: number
  /** collect only when the heap in use is at least this far above the last post-GC figure @default 32 MiB */
  minGrowthBytes?: number
  /** the collector; default: V8's, when it can be reached (undefined disables) */
  gc?: (() => void) | undefined
  /** heap in use, bytes @default v8.getHeapStatistics().used_heap_size */
  heapUsed?: () => number
  onCollect?: (before: number, after: number, ms: number) => void
}

const MiB = 1024 * 1024

export class IdleGc {
  private readonly o: Required<Omit<IdleGcOptions, 'gc' | 'onCollect'>> & Pick<IdleGcOptions, 'gc' | 'onCollect'>
  private cancel?: CancelTimer
  private lastActivity = -1
  private quietSince = 0
  private collectedThisQuiet = true // a node that never worked has nothing to give back
  private baseline: number
  collections = 0

  constructor (opts: IdleGcOptions) {
    this.o = {
      idleMs: 30_000,
      checkMs: 5_000,
      minGrowthBytes: 32 * MiB,
      heapUsed: () => getHeapStatistics().used_heap_size,
      ...opts,
      gc: 'gc' in opts ? opts.gc : v8Gc()
    }
    this.baseline = this.o.heapUsed()
  }

  get enabled (): boolean { return this.o.gc !== undefined }

  start (): void {
    if (!this.enabled || this.cancel !== undefined) return
    this.cancel = this.o.sched.interval(() => { this.check() }, this.o.checkMs, { unref: true })
  }

  stop (): void {
    this.cancel?.()
    this.cancel = undefined
  }

  /** one look: exported for tests (the timer calls it) */
  check (): void {
    const now = this.o.sched.monotonicMs()
    const a = this.o.activity()
    if (a !== this.lastActivity) {
      if (this.lastActivity !== -1) this.collectedThisQuiet = false
      this.lastActivity = a
      this.quietSince = now
      return
    }
    if (this.collectedThisQuiet || now - this.quietSince < this.o.idleMs) return
    this.collectedThisQuiet = true
    const before = this.o.heapUsed()
    if (before - this.baseline < this.o.minGrowthBytes) return
    const t0 = this.o.sched.monotonicMs()
    this.o.gc!()
    this.baseline = this.o.heapUsed()
    this.collections++
    this.o.onCollect?.(before, this.baseline, this.o.sched.monotonicMs() - t0)
  }
}

/** V8's full collector without --expose-gc on the command line (the flag only adds the global to new contexts). */
function v8Gc (): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc
  if (typeof g === 'function') return g
  try {
    setFlagsFromString('--expose-gc')
    const fn = runInNewContext('gc') as unknown
    return typeof fn === 'function' ? fn as () => void : undefined
  } catch {
    return undefined
  }
}

export { MiB }
