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
    const t = setInterval(fn, ms)
    if (opts?.unref === true) t.unref?.()
    return () => { clearInterval(t) }
  },
  immediate: fn => { setImmediate(fn) }
}
