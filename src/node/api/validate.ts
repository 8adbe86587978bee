// Shape checks at the HTTP boundary. The scheduler validates task specs in depth (and names the field);
// here we only make sure the envelope is what the route expects, so errors point at the right place.

import { InvalidRequestError } from './errors.js'
import { MAX_BATCH_TASKS, MAX_KEY_LENGTH, MAX_WORKFLOW_STEPS } from './limits.js'

type Obj = Record<string, unknown>

function isObject (v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Checks a task spec has a task type; `prefix` locates it inside a batch or workflow body. */
export function checkTaskSpec (spec: unknown, prefix = ''): asserts spec is Obj {
  if (!isObject(spec)) {
    const where = prefix === '' ? undefined : prefix.slice(0, -1)
    throw new InvalidRequestError(where, `${where ?? 'task'} must be a JSON object`)
  }
  const key = 'task_type' in spec && !('taskType' in spec) ? 'task_type' : 'taskType'
  const type = spec[key]
  if (typeof type !== 'string' || type.trim() === '') {
    throw new InvalidRequestError(prefix + key, `${prefix + key} is required: a non-empty string such as "echo"`)
  }
}

/**
 * Takes the idempotency key out of a submission body (`idempotency_key`, `idempotencyKey`, or the
 * `Idempotency-Key` header), so the spec the scheduler sees is only the task.
 */
export function takeIdempotencyKey (body: Obj, header: string | string[] | undefined): string | undefined {
  let key: unknown = header
  for (const name of ['idempotency_key', 'idempotencyKey']) {
    if (name in body) {
      key = body[name]
      delete body[name]
    }
  }
  if (key === undefined) return undefined
  if (typeof key !== 'string' || key === '' || key.length > MAX_KEY_LENGTH) {
    throw new InvalidRequestError('idempotency_key', `idempotency_key must be a string of 1 to ${MAX_KEY_LENGTH} characters`)
  }
  return key
}

export function checkBatch (body: Obj): void {
  if ('name' in body && typeof body.name !== 'string') throw new InvalidRequestError('name', 'name must be a string')
  if ('description' in body && typeof body.description !== 'string') throw new InvalidRequestError('description', 'description must be a string')
  const tasks = body.tasks
  if (!Array.isArray(tasks) || tasks.length === 0) throw new InvalidRequestError('tasks', 'tasks must be a non-empty array of task specs')
  if (tasks.length > MAX_BATCH_TASKS) throw new InvalidRequestError('tasks', `a batch holds at most ${MAX_BATCH_TASKS} tasks, got ${tasks.length}`)
  tasks.forEach((t, i) => checkTaskSpec(t, `tasks[${i}].`))
}

/** `{ template, vars }` or `{ name, steps: [{ name, task, dependsOn }] }`. */
export function checkWorkflow (body: Obj): void {
  if ('template' in body) {
    if (!isObject(body.template)) throw new InvalidRequestError('template', 'template must be a JSON object (a TaskTemplate)')
    if ('vars' in body && !isObject(body.vars)) throw new InvalidRequestError('vars', 'vars must be a JSON object of variable values')
    return
  }
  if (typeof body.name !== 'string' || body.name === '') throw new InvalidRequestError('name', 'name is required (or give a template)')
  const steps = body.steps
  if (!Array.isArray(steps) || steps.length === 0) throw new InvalidRequestError('steps', 'steps must be a non-empty array of { name, task, dependsOn }')
  if (steps.length > MAX_WORKFLOW_STEPS) throw new InvalidRequestError('steps', `a workflow holds at most ${MAX_WORKFLOW_STEPS} steps`)
  steps.forEach((s, i) => {
    if (!isObject(s)) throw new InvalidRequestError(`steps[${i}]`, `steps[${i}] must be an object`)
    if (typeof s.name !== 'string' || s.name === '') throw new InvalidRequestError(`steps[${i}].name`, `steps[${i}].name is required`)
    checkTaskSpec(s.task, `steps[${i}].task.`)
    const deps = s.dependsOn ?? s.depends_on
    if (deps !== undefined && (!Array.isArray(deps) || deps.some(d => typeof d !== 'string'))) {
      throw new InvalidRequestError(`steps[${i}].dependsOn`, `steps[${i}].dependsOn must be an array of step names`)
    }
  })
}

/** A metrics period such as 30m, 24h, 7d. */
export function checkPeriod (period: string | null): string | undefined {
  if (period === null || period === '') return undefined
  if (!/^\d{1,6}[smhd]$/.test(period)) throw new InvalidRequestError('period', `period must look like 30m, 24h or 7d, got "${period}"`)
  return period
}
