// A simulated executor for the production Worker: each attempt takes a seeded random time on the
// node's simulated clock, then completes (an echo's result is its payload, as the built-in echo and
// the soak's checker expect), fails (retryable or not), or runs past its timeout_seconds. A crash of
// the node simply never resolves what was running (the process is gone).
import type { ExecHooks, ExecOutcome } from '../../src/node/executor/executor.js'
import type { WorkerExecutor } from '../../src/node/worker/worker.js'
import type { TaskData } from '../../src/sched/types.js'
import type { Scheduler } from '../../src/node/scheduler.js'
import { randInt, type Rng } from './rng.js'

export interface ExecParams {
  /** execution time, uniform in [0, maxExecMs] */
  maxExecMs: number
  /** chance an attempt fails with a retryable error (network_error) */
  failRate: number
  /** chance an attempt fails for good (invalid_payload: never retried) */
  fatalRate: number
  /** chance an attempt hangs past its timeout_seconds (recorded as timeout) */
  hangRate: number
}

export class SimExecutor implements WorkerExecutor {
  private readonly running = new Map<string, (o: ExecOutcome) => void>()
  /** attempts started by this process */
  executed = 0

  constructor (readonly maxConcurrentTasks: number, private readonly sched: Scheduler, private readonly rng: Rng, private readonly p: ExecParams,
    private readonly onExecute?: (task: TaskData, attempt: number) => void) {}

  get freeSlots (): number { return Math.max(0, this.maxConcurrentTasks - this.running.size) }

  async execute (task: TaskData, hooks: ExecHooks = {}): Promise<ExecOutcome> {
    // by attempt, as the real executor: a retry may come while the expired attempt is being stopped
    const runKey = `${task.id}:${hooks.attempt ?? 1}`
    if (this.running.has(runKey)) throw new Error(`task ${task.id} attempt ${hooks.attempt ?? 1} is already running here`)
    this.executed++
    this.onExecute?.(task, hooks.attempt ?? 1)
    const startedAt = this.sched.nowMs()
    const limitMs = task.requirements.timeoutSeconds * 1000
    const x = this.rng()
    const hang = x < this.p.hangRate
    const fatal = !hang && x < this.p.hangRate + this.p.fatalRate
    const fail = !hang && !fatal && x < this.p.hangRate + this.p.fatalRate + this.p.failRate
    const ms = hang ? limitMs : randInt(this.rng, 0, this.p.maxExecMs + 1)
    return new Promise<ExecOutcome>(resolve => {
      const cancel = this.sched.timeout(() => { end(outcome()) }, ms)
      const end = (o: ExecOutcome): void => {
        if (this.running.get(runKey) !== end) return
        this.running.delete(runKey)
        cancel()
        resolve(o)
      }
      this.running.set(runKey, end)
      if (ms > 0) this.sched.timeout(() => { hooks.onProgress?.(50) }, ms / 2)
      const outcome = (): ExecOutcome => {
        const finishedAt = this.sched.nowMs()
        if (hang) return { status: 'timeout', error: { type: 'timeout_error', message: `ran past ${limitMs} ms` }, startedAt, finishedAt }
        if (fatal) return { status: 'failed', error: { type: 'invalid_payload', message: 'simulated permanent failure' }, startedAt, finishedAt }
        if (fail) return { status: 'failed', error: { type: 'network_error', message: 'simulated transient failure' }, startedAt, finishedAt }
        return { status: 'completed', result: task.payload, startedAt, finishedAt }
      }
    })
  }

  cancel (taskId: string, attempt?: number): boolean {
    let found = false
    for (const [k, end] of [...this.running]) {
      if (attempt !== undefined ? k !== `${taskId}:${attempt}` : k.slice(0, k.lastIndexOf(':')) !== taskId) continue
      const t = this.sched.nowMs()
      end({ status: 'cancelled', error: { type: 'cancelled', message: 'cancelled' }, startedAt: t, finishedAt: t })
      found = true
    }
    return found
  }
}
