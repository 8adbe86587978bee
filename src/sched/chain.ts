// TaskChain (the seed's 串行任务链), pure part: tasks that run one after another, each able to read
// the previous step's result through `{{prev.result...}}` in its payload. A chain is a workflow
// whose step i depends on step i-1; the node layer's execute() submits it and waits for the last
// step. chainOutcome reads the answer from the workflow's status.

import type { TaskRecord } from './commands.js'
import { SchedError } from './errors.js'
import { Task, copyTaskData } from './task.js'
import type { TaskData } from './types.js'
import { chainSteps, validateWorkflow, type Workflow } from './workflow.js'

export class InvalidChainError extends SchedError {
  constructor (message: string) { super(message, 'invalid_payload') }
}

export class TaskChain {
  /** Makes workflow ids; defaults to Task.idGenerator (installed by the package entry, or set by tests). */
  static idGenerator: () => string = () => Task.idGenerator()

  readonly tasks: TaskData[]
  readonly name: string

  constructor (tasks: Array<TaskData | Task>, opts: { name?: string } = {}) {
    if (!Array.isArray(tasks) || tasks.length === 0) throw new InvalidChainError('a TaskChain needs at least one task')
    this.tasks = tasks.map(t => t instanceof Task ? t.toData() : copyTaskData(t))
    this.name = opts.name ?? 'chain'
  }

  /** The workflow to submit: steps step1..n, each depending on the one before. */
  toWorkflow (id: string = TaskChain.idGenerator()): Workflow {
    const steps = chainSteps(this.tasks.map(t => ({ ...t, workflowId: id })))
    return validateWorkflow({ id, name: this.name, steps })
  }
}

export interface ChainOutcome {
  done: boolean
  ok: boolean
  /** the last step's result when every step completed */
  result?: unknown
  /** per step, in order */
  results: unknown[]
  /** the first step that failed or was cancelled */
  failedStep?: number
  error?: { type: string, message: string }
}

/** The chain's answer from the latest record of each step (in order, failover clones followed). */
export function chainOutcome (steps: ReadonlyArray<TaskRecord | undefined>): ChainOutcome {
  const results = steps.map(r => r?.status === 'completed' ? r.result : undefined)
  for (let i = 0; i < steps.length; i++) {
    const r = steps[i]
    if (r === undefined || r.status === 'completed') continue
    if (r.status === 'failed' || r.status === 'timeout' || r.status === 'cancelled') {
      const out: ChainOutcome = { done: true, ok: false, results, failedStep: i }
      if (r.error !== undefined) out.error = { type: r.error.type, message: r.error.message }
      return out
    }
  }
  const done = steps.every(r => r?.status === 'completed')
  return done ? { done, ok: true, result: results[results.length - 1], results } : { done: false, ok: false, results }
}
