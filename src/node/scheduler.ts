// The node's only doors to time: a clock and timers. Services take a Scheduler so the seeded
// simulator (test/sim/sim-scheduler.ts) can run the same code on simulated time; `realScheduler`
// is Node's event loop and is the default everywhere.

/** Cancels a timer; calling it twice, or after the timer fired, does nothing. */
export type CancelTimer = () => void

export interface Scheduler {
  /** wall-clock time in ms since the epoch (Date.now) */
  nowMs: () => number
  /** a monotonic clock in ms, for measuring durations (performance.now) */
  monotonicMs: () => number
  /** run fn once after ms; `unref` timers do not keep the process alive */
  timeout: (fn: () => void, ms: number, opts?: { unref?: boolean }) => CancelTimer
  /** run fn every ms until cancelled */
  interval: (fn: () => void, ms: number, opts?: { unref?: boolean }) => CancelTimer
  /** run fn after the current event and its microtasks, before any timer of a later turn (setImmediate) */
  immediate: (fn: () => void) => void
}

export const realScheduler: Scheduler = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  timeout: (fn, ms, opts) => {
    const t = setTimeout(fn, ms)
    if (opts?.unref === true) t.unref?.()
    return () => { clearTimeout(t) }
  },
  interval: (fn, ms, opts) => {
    if (ms >= BEAT_MS && ms % BEAT_MS === 0) return beat.add(fn, ms / BEAT_MS, opts?.unref !== true)
    const t = setInterval(fn, ms)
    if (opts?.unref === true) t.unref?.()
    return () => { clearInterval(t) }
  },
  immediate: fn => { setImmediate(fn) }
}

const BEAT_MS = 1000

/**
 * Intervals of whole seconds share one timer, a beat a second: an idle node wakes once a second for
 * all of them instead of once for each at its own phase (issue 12: an idle follower's main thread
 * woke 12.7 times a second, and the device monitor, the bid refresh, the leader-latency ping and the
 * idle-GC check were four of them, at four phases). One that is every n seconds runs at every n-th
 * beat after it was added; its first run comes up to a beat early. The beat keeps the process alive
 * while any of its intervals would.
 */
class Beat {
  private readonly entries = new Set<{ fn: () => void, every: number, left: number, ref: boolean }>()
  private timer?: ReturnType<typeof setInterval>

  add (fn: () => void, every: number, ref: boolean): CancelTimer {
    const e = { fn, every, left: every, ref }
    this.entries.add(e)
    this.update()
    return () => { if (this.entries.delete(e)) this.update() }
  }

  private update (): void {
    if (this.entries.size === 0) {
      if (this.timer !== undefined) { clearInterval(this.timer); this.timer = undefined }
      return
    }
    this.timer ??= setInterval(() => { this.run() }, BEAT_MS)
    if ([...this.entries].some(e => e.ref)) this.timer.ref(); else this.timer.unref()
  }

  private run (): void {
    for (const e of [...this.entries]) {
      if (--e.left > 0 || !this.entries.has(e)) continue
      e.left = e.every
      // one interval that throws must not stop the others: its error surfaces as setInterval's would
      try { e.fn() } catch (err) { setImmediate(() => { throw err }) }
    }
  }
}

const beat = new Beat()

