// Simulated time for code written against src/node/scheduler.ts: timers fire in (time, creation)
// order when the simulator advances the clock, immediates run when it settles, and every
// microtask (promise callback) those start runs to completion before the next event. Nothing here
// reads the real clock, so one seed replays exactly.
import type { CancelTimer, Scheduler } from '../../src/node/scheduler.js'

interface Timer { at: number, seq: number, fn: () => void, everyMs: number, cancelled: boolean }

/** bound on immediates chained from one another within one instant (a livelock is a bug) */
const MAX_SETTLE_ROUNDS = 10_000
/** a fixed wall-clock origin, so Date-like values are plausible and identical across runs */
const EPOCH_MS = Date.UTC(2030, 0, 1)

/** one turn of the real event loop: every queued microtask has run when it resolves */
const turn = (): Promise<void> => new Promise(resolve => { setImmediate(resolve) })

export class SimScheduler implements Scheduler {
  /** simulated ms since the start of the run */
  private now = 0
  private seq = 0
  private timers: Timer[] = []
  private immediates: Array<() => void> = []
  /** promise callbacks may be queued: the next settle must let the event loop run them */
  private microtasks = true

  get elapsedMs (): number { return this.now }

  nowMs = (): number => EPOCH_MS + this.now
  monotonicMs = (): number => this.now

  timeout = (fn: () => void, ms: number): CancelTimer => this.add(fn, ms, 0)
  interval = (fn: () => void, ms: number): CancelTimer => this.add(fn, ms, Math.max(1, ms))
  immediate = (fn: () => void): void => { this.immediates.push(fn) }
  /** call after resolving a promise someone may await (a completed fsync) */
  wake (): void { this.microtasks = true }

  private add (fn: () => void, ms: number, everyMs: number): CancelTimer {
    const t: Timer = { at: this.now + Math.max(0, ms), seq: this.seq++, fn, everyMs, cancelled: false }
    this.timers.push(t)
    return () => { t.cancelled = true }
  }

  /** Run immediates (and the microtasks they and earlier events queued) until none is left. */
  async settle (): Promise<void> {
    for (let i = 0; i < MAX_SETTLE_ROUNDS; i++) {
      if (this.microtasks) { this.microtasks = false; await turn() }
      if (this.immediates.length === 0) return
      const batch = this.immediates
      this.immediates = []
      for (const fn of batch) fn()
      this.microtasks = true // what ran may have chained promises
    }
    throw new Error(`immediates did not settle after ${MAX_SETTLE_ROUNDS} rounds`)
  }

  /** Move the clock to `toMs`, firing every timer due on the way at its own instant. */
  async advanceTo (toMs: number): Promise<void> {
    await this.settle()
    for (;;) {
      this.timers = this.timers.filter(t => !t.cancelled)
      let at = Infinity
      for (const t of this.timers) if (t.at < at) at = t.at
      if (at > toMs) break
      this.now = Math.max(this.now, at)
      const due = this.timers.filter(t => t.at === at).sort((a, b) => a.seq - b.seq)
      for (const t of due) {
        if (t.cancelled) continue
        if (t.everyMs > 0) { t.at += t.everyMs; t.seq = this.seq++ } else t.cancelled = true
        t.fn()
      }
      await this.settle()
    }
    this.now = Math.max(this.now, toMs)
  }
}
