// The checks a submit passes before it changes anything: shape of each task, size, batch and
// workflow ids, and which tasks already exist (a resubmission is a duplicate, not a second run).

import type { Command } from '../commands.js'
import type { TaskData } from '../types.js'
import { checkWorkflow } from '../workflow.js'
import { chainHas } from './chains.js'
import { MAX_TASKS_PER_SUBMIT, errorReply, type Reply, type State } from './state.js'

type SubmitCommand = Extract<Command, { type: 'submit' }>

/** The tasks of a valid submit and, per task, the id of an existing duplicate. */
export interface CheckedSubmit { tasks: TaskData[], existing: Array<string | undefined> }

/** Validates a submit; returns the task list and, per task, the id of an existing duplicate. */
export function checkSubmit (s: State, cmd: SubmitCommand): Reply | CheckedSubmit {
  if (typeof cmd.principal !== 'string' || cmd.principal === '') return errorReply('invalid_payload', 'submit.principal must be a non-empty string', 'principal')
  if (typeof cmd.at !== 'number' || !Number.isFinite(cmd.at)) return errorReply('invalid_payload', 'submit.at must be a finite number', 'at')
  let tasks: TaskData[] = Array.isArray(cmd.tasks) ? cmd.tasks : []
  if (cmd.workflow !== undefined) {
    const werr = checkWorkflow(cmd.workflow)
    if (werr !== undefined) return errorReply('invalid_payload', werr.message, werr.field)
    const stepTasks = cmd.workflow.steps.map(st => st.task)
    if (tasks.length > 0 && (tasks.length !== stepTasks.length || tasks.some((t, i) => t?.id !== stepTasks[i].id))) {
      return errorReply('invalid_payload', 'submit.tasks must be empty or the workflow steps\' tasks in step order', 'tasks')
    }
    tasks = stepTasks
    const wf = s.workflows.get(cmd.workflow.id)
    if (wf !== undefined) return sameIdsOrConflict(s, 'workflow', wf.id, wf.steps.map(st => st.taskId), tasks)
  }
  if (tasks.length === 0) return errorReply('invalid_payload', 'submit.tasks must be a non-empty array', 'tasks')
  if (tasks.length > MAX_TASKS_PER_SUBMIT) return errorReply('invalid_payload', `at most ${MAX_TASKS_PER_SUBMIT} tasks per submit, got ${tasks.length}`, 'tasks')
  if (cmd.batch !== undefined) {
    if (cmd.batch === null || typeof cmd.batch.id !== 'string' || cmd.batch.id === '') return errorReply('invalid_payload', 'batch.id must be a non-empty string', 'batch.id')
    if (typeof cmd.batch.name !== 'string') return errorReply('invalid_payload', 'batch.name must be a string', 'batch.name')
    const b = s.batches.get(cmd.batch.id)
    if (b !== undefined) return sameIdsOrConflict(s, 'batch', b.id, b.taskIds, tasks)
  }
  return existingTasks(s, tasks)
}

/** Checks each task's shape and finds the ones that already exist (or were evicted). */
function existingTasks (s: State, tasks: TaskData[]): Reply | CheckedSubmit {
  const seen = new Set<string>()
  const existing: Array<string | undefined> = new Array(tasks.length)
  for (let i = 0; i < tasks.length; i++) {
    const err = checkTaskData(tasks[i], `tasks[${i}]`)
    if (err !== undefined) return err
    const t = tasks[i]
    if (seen.has(t.id)) return errorReply('invalid_payload', `task id ${t.id} appears twice in one submit`, `tasks[${i}].id`)
    seen.add(t.id)
    // an evicted id is a duplicate too: it ran already, resubmitting it must not run it again
    existing[i] = s.tasks.has(t.id) || s.tombstones.has(t.id) ? t.id : (t.idempotencyKey !== undefined ? s.idempotency.get(t.idempotencyKey) : undefined)
  }
  return { tasks, existing }
}

/** A batch/workflow id that already exists: a resubmission with the same task ids is a duplicate. */
function sameIdsOrConflict (s: State, kind: string, id: string, ids: string[], tasks: TaskData[]): Reply | CheckedSubmit {
  if (ids.length === tasks.length && tasks.every((t, i) => t?.id === ids[i] || chainHas(s, ids[i], t?.id))) {
    return { tasks, existing: ids.slice() }
  }
  return errorReply('conflict', `${kind} ${id} already exists with other tasks`, `${kind}.id`)
}

/** Cheap structural check of a submitted TaskData (the submitting node already parsed the spec). */
export function checkTaskData (t: TaskData, path: string): Reply | undefined {
  if (t == null || typeof t !== 'object') return errorReply('invalid_payload', `${path} must be a task object`, path)
  if (typeof t.id !== 'string' || t.id === '' || t.id.length > 200) return errorReply('invalid_payload', `${path}.id must be a non-empty string (≤ 200 chars)`, `${path}.id`)
  if (typeof t.taskType !== 'string' || t.taskType === '') return errorReply('invalid_payload', `${path}.taskType must be a non-empty string`, `${path}.taskType`)
  if (!Number.isInteger(t.priority) || t.priority < 1 || t.priority > 5) return errorReply('invalid_payload', `${path}.priority must be an integer 1..5`, `${path}.priority`)
  const r = t.requirements
  if (r == null || typeof r !== 'object') return errorReply('invalid_payload', `${path}.requirements must be an object`, `${path}.requirements`)
  if (!Number.isInteger(r.maxRetries) || r.maxRetries < 0) return errorReply('invalid_payload', `${path}.requirements.maxRetries must be an integer ≥ 0`, `${path}.requirements.maxRetries`)
  if (!Array.isArray(r.excludeDevices)) return errorReply('invalid_payload', `${path}.requirements.excludeDevices must be an array`, `${path}.requirements.excludeDevices`)
  if (!Number.isInteger(t.retryCount) || t.retryCount < 0) return errorReply('invalid_payload', `${path}.retryCount must be an integer ≥ 0`, `${path}.retryCount`)
  if (typeof t.createdAt !== 'number') return errorReply('invalid_payload', `${path}.createdAt must be a number (ms)`, `${path}.createdAt`)
  if (!Array.isArray(t.requiredPermissions)) return errorReply('invalid_payload', `${path}.requiredPermissions must be an array`, `${path}.requiredPermissions`)
  if (t.idempotencyKey !== undefined && typeof t.idempotencyKey !== 'string') return errorReply('invalid_payload', `${path}.idempotencyKey must be a string`, `${path}.idempotencyKey`)
  return undefined
}
