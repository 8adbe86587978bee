// TaskBatch (the seed's 批次) and ParallelTaskGroup: many independent tasks submitted as one atomic
// 'submit' command. Pure parts only: building the batch, and reading a group's outcome from task
// records; the node layer submits (submitBatch) and waits (ParallelTaskGroup.waitForCompletion).

import type { BatchInfo, TaskRecord } from './commands.js'
import { SchedError } from './errors.js'
import { MAX_BATCH_TASKS } from '../protocol/limits.js'
import { Task, copyTaskData } from './task.js'
import type { TaskData } from './types.js'
import { TERMINAL_STATUSES } from './types.js'

/** Cap on tasks per batch (one definition: src/protocol/limits.ts, the decoder's own). */
export { MAX_BATCH_TASKS }

export class InvalidBatchError extends SchedError {
  constructor (message: string, readonly field?: string) {
    super(message, 'invalid_payload')
  }
}

export interface TaskBatchInit { id?: string, name: string, description?: string, tasks?: Array<TaskData | Task> }

export class TaskBatch {
  /** Makes batch ids; defaults to Task.idGenerator (installed by the package entry, or set by tests). */
  static idGenerator: () => string = () => Task.idGenerator()

  readonly id: string
  readonly name: string
  readonly description: string
  private readonly list: TaskData[] = []
  private readonly ids = new Set<string>()

  constructor (init: TaskBatchInit) {
    if (init === null || typeof init !== 'object') throw new InvalidBatchError('batch must be an object', 'batch')
    if (typeof init.name !== 'string') throw new InvalidBatchError('batch.name must be a string', 'name')
    if (init.description !== undefined && typeof init.description !== 'string') throw new InvalidBatchError('batch.description must be a string', 'description')
    if (init.id !== undefined && (typeof init.id !== 'string' || init.id === '')) throw new InvalidBatchError('batch.id must be a non-empty string', 'id')
    this.id = init.id ?? TaskBatch.idGenerator()
    this.name = init.name
    this.description = init.description ?? ''
    for (const t of init.tasks ?? []) this.addTask(t)
  }

  /** Adds a task (its batchId becomes this batch's id). A task id added twice is an error. */
  addTask (task: TaskData | Task): this {
    const data = task instanceof Task ? task.toData() : copyTaskData(task)
    if (this.ids.has(data.id)) throw new InvalidBatchError(`task ${data.id} is already in batch ${this.id}`, 'tasks')
    if (this.list.length >= MAX_BATCH_TASKS) throw new InvalidBatchError(`a batch holds at most ${MAX_BATCH_TASKS} tasks`, 'tasks')
    if (data.batchId !== undefined && data.batchId !== this.id) throw new InvalidBatchError(`task ${data.id} belongs to batch ${data.batchId}, not ${this.id}`, 'tasks')
    data.batchId = this.id
    this.ids.add(data.id)
    this.list.push(data)
    return this
  }

  get tasks (): readonly TaskData[] { return this.list }
  get size (): number { return this.list.length }

  /** What the 'submit' command carries. */
  toSubmit (): { batch: BatchInfo, tasks: TaskData[] } {
    if (this.list.length === 0) throw new InvalidBatchError(`batch ${this.id} has no tasks`, 'tasks')
    const batch: BatchInfo = { id: this.id, name: this.name }
    if (this.description !== '') batch.description = this.description
    return { batch, tasks: this.list.slice() }
  }
}

/** The seed's ParallelTaskGroup: tasks that run side by side; the node adds waitForCompletion. */
export class ParallelTaskGroup {
  readonly tasks: TaskData[]
  constructor (tasks: Array<TaskData | Task>) {
    if (!Array.isArray(tasks) || tasks.length === 0) throw new InvalidBatchError('a ParallelTaskGroup needs at least one task', 'tasks')
    this.tasks = tasks.map(t => t instanceof Task ? t.toData() : copyTaskData(t))
  }

  /** A batch for submission (a group is an unnamed batch). */
  toBatch (name = 'parallel group'): TaskBatch {
    return new TaskBatch({ name, tasks: this.tasks })
  }
}

export interface GroupOutcome {
  /** every task (followed through failover clones) is terminal */
  done: boolean
  /** results in task order; undefined for a task that did not complete */
  results: unknown[]
  completed: number
  failed: number
  cancelled: number
  pending: number
}

/**
 * Summarises a group from the latest record of each task (the caller follows replacedBy links,
 * e.g. with ClusterState.latest). Missing records count as pending.
 */
export function groupOutcome (latest: ReadonlyArray<TaskRecord | undefined>): GroupOutcome {
  const out: GroupOutcome = { done: true, results: [], completed: 0, failed: 0, cancelled: 0, pending: 0 }
  for (const r of latest) {
    out.results.push(r?.status === 'completed' ? r.result : undefined)
    if (r === undefined || !TERMINAL_STATUSES.has(r.status)) { out.pending++; out.done = false } else if (r.status === 'completed') out.completed++
    else if (r.status === 'cancelled') out.cancelled++
    else out.failed++
  }
  return out
}
