// ParallelTaskGroup and TaskChain of the seed, on top of a node's scheduler. A group submits its
// tasks as one atomic batch and waits for all; a chain is a workflow whose steps run one after the
// other, each able to read the previous result with `{{prev.result.<path>}}` (or any earlier step's
// with `{{steps.<name>.result.<path>}}`) — the state machine substitutes it when the step becomes
// runnable, so a leader change mid-chain neither loses nor repeats a step.
import type { ClusterScheduler } from '../api-types.js'
import type { TaskRecord } from '../../sched/commands.js'
import { NodeError, WaitTimeoutError } from '../errors.js'

/** the scheduler of the most recently started node: lets seed-style code omit it */
let defaultScheduler: ClusterScheduler | undefined
export function setDefaultScheduler (s: ClusterScheduler | undefined): void { defaultScheduler = s }
function pick (s?: ClusterScheduler): ClusterScheduler {
  const r = s ?? defaultScheduler
  if (r === undefined) throw new NodeError('invalid_payload', 'no scheduler: start a node first or pass { scheduler }')
  return r
}

export class GroupTimeoutError extends WaitTimeoutError {
  constructor (readonly unfinished: string[], readonly finished: TaskRecord[], timeoutMs: number) {
    super(`${unfinished.length} of ${unfinished.length + finished.length} tasks unfinished after ${timeoutMs} ms: ${unfinished.slice(0, 10).join(', ')}${unfinished.length > 10 ? ', …' : ''}`)
  }
}

export class ParallelTaskGroup {
  private ids?: string[]
  constructor (readonly tasks: unknown[], private readonly opts: { scheduler?: ClusterScheduler, name?: string } = {}) {}

  /** submit once (all or nothing); later calls return the same ids */
  async submit (): Promise<string[]> {
    if (this.ids === undefined) {
      const res = await pick(this.opts.scheduler).submitBatch({ name: this.opts.name ?? 'parallel group', tasks: this.tasks })
      this.ids = res.taskIds
    }
    return this.ids
  }

  /** Every task's final record, in submission order; on timeout an error naming the unfinished. */
  async waitForCompletion (timeoutMs = 300_000): Promise<TaskRecord[]> {
    const s = pick(this.opts.scheduler)
    const ids = await this.submit()
    const deadline = Date.now() + timeoutMs
    const results: Array<TaskRecord | undefined> = new Array(ids.length)
    await Promise.all(ids.map(async (id, i) => {
      try { results[i] = await s.waitForResult(id, { timeoutMs: Math.max(1, deadline - Date.now()) }) } catch { results[i] = undefined }
    }))
    const unfinished = ids.filter((_, i) => results[i] === undefined)
    if (unfinished.length > 0) throw new GroupTimeoutError(unfinished, results.filter((r): r is TaskRecord => r !== undefined), timeoutMs)
    return results as TaskRecord[]
  }
}

export class ChainStepError extends NodeError {
  constructor (readonly step: string, readonly record: TaskRecord) {
    super('execution_error', `chain step '${step}' ${record.status}: ${record.error?.message ?? 'no result'}`)
  }
}

export class TaskChain {
  constructor (readonly tasks: unknown[], private readonly opts: { scheduler?: ClusterScheduler, name?: string } = {}) {}

  /** Runs the steps in order; resolves with every step's record, the last one being the chain's result. */
  async execute (timeoutMs = 300_000): Promise<TaskRecord[]> {
    const s = pick(this.opts.scheduler)
    const steps = this.tasks.map((task, i) => ({ name: `step${i + 1}`, task, dependsOn: i === 0 ? [] : [`step${i}`] }))
    const { taskIds } = await s.submitWorkflow({ name: this.opts.name ?? 'chain', steps })
    const records: TaskRecord[] = []
    const deadline = Date.now() + timeoutMs
    for (let i = 0; i < taskIds.length; i++) {
      const rec = await s.waitForResult(taskIds[i]!, { timeoutMs: Math.max(1, deadline - Date.now()) })
      records.push(rec)
      if (rec.status !== 'completed') throw new ChainStepError(steps[i]!.name, rec)
    }
    return records
  }
}
