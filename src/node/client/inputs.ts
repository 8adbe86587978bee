// Turning what users hand to submitBatch / submitWorkflow (class instances, plain objects, JSON from
// the HTTP API) into the plain shapes the state machine takes. Errors name the field.
import { NodeError } from '../errors.js'
import type { TaskData } from '../../sched/types.js'
import type { WorkflowInfo, WorkflowStepSpec } from '../../sched/commands.js'
import { TaskTemplate } from '../../sched/template.js'
import { validateWorkflow } from '../../sched/workflow.js'
import { MAX_BATCH_TASKS, MAX_KEY_LENGTH, MAX_NAME_LENGTH, MAX_TEXT_LENGTH } from '../../protocol/limits.js'

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function bad (field: string, message: string): NodeError {
  return new NodeError('invalid_payload', `${field}: ${message}`, field)
}

export function toBatch (input: unknown, toTask: (t: unknown) => TaskData, newId: () => string): { id: string, name: string, description?: string, tasks: TaskData[] } {
  if (!isObj(input)) throw bad('batch', 'must be an object with name and tasks')
  const name = input.name ?? 'batch'
  checkName(name, 'name')
  const description = input.description
  if (description !== undefined && (typeof description !== 'string' || description.length > MAX_TEXT_LENGTH)) throw bad('description', `must be a string of at most ${MAX_TEXT_LENGTH} characters`)
  if (input.id !== undefined && input.id !== '') checkKey(input.id, 'id')
  const tasks = input.tasks
  if (!Array.isArray(tasks) || tasks.length === 0) throw bad('tasks', 'must be a non-empty array of task specs')
  // before chunking: a chunked batch over the cap would be staged and only refused at its seal
  if (tasks.length > MAX_BATCH_TASKS) throw bad('tasks', `a batch holds at most ${MAX_BATCH_TASKS} tasks, got ${tasks.length}`)
  const id = typeof input.id === 'string' && input.id !== '' ? input.id : newId()
  const out = tasks.map((t, i) => {
    try { return toTask(t) } catch (err) { throw prefix(err, `tasks[${i}]`) }
  })
  return description === undefined ? { id, name, tasks: out } : { id, name, description, tasks: out }
}

/**
 * Accepts: a Workflow (from TaskTemplate.instantiate), `{ name, steps: [{ name, task, dependsOn }] }`,
 * or `{ template: { name, description, tasks }, vars }` (the HTTP form).
 */
export function toWorkflowInfo (input: unknown, toTask: (t: unknown) => TaskData, newId: () => string): WorkflowInfo {
  if (!isObj(input)) throw bad('workflow', 'must be an object')
  let wf: unknown = input
  if (input.template !== undefined) {
    if (!isObj(input.template)) throw bad('template', 'must be an object with name and tasks')
    if (input.vars !== undefined && !isObj(input.vars)) throw bad('vars', 'must be an object')
    try {
      wf = new TaskTemplate(input.template as never).instantiate((input.vars ?? {}) as Record<string, unknown>)
    } catch (err) { throw prefix(err, 'template') }
  }
  if (!isObj(wf)) throw bad('workflow', 'must be an object')
  const name = wf.name ?? 'workflow'
  checkName(name, 'name')
  if (wf.id !== undefined && wf.id !== '') checkKey(wf.id, 'id')
  if (!Array.isArray(wf.steps) || wf.steps.length === 0) throw bad('steps', 'must be a non-empty array')
  const steps: WorkflowStepSpec[] = wf.steps.map((s: unknown, i: number) => {
    if (!isObj(s)) throw bad(`steps[${i}]`, 'must be an object with name and task')
    if (typeof s.name !== 'string' || s.name === '') throw bad(`steps[${i}].name`, 'must be a non-empty string')
    checkName(s.name, `steps[${i}].name`)
    const deps = s.dependsOn ?? s.depends_on ?? []
    if (!Array.isArray(deps) || !deps.every(x => typeof x === 'string')) throw bad(`steps[${i}].dependsOn`, 'must be an array of step names')
    let task: TaskData
    try { task = toTask(s.task) } catch (err) { throw prefix(err, `steps[${i}].task`) }
    return { name: s.name, task, dependsOn: deps as string[] }
  })
  const id = typeof wf.id === 'string' && wf.id !== '' ? wf.id : newId()
  try {
    return validateWorkflow({ id, name, steps })
  } catch (err) { throw prefix(err, 'workflow') }
}

/** Names and keys as the entry decoder bounds them (src/protocol/limits.ts). */
function checkName (v: unknown, field: string): asserts v is string {
  if (typeof v !== 'string' || v.length > MAX_NAME_LENGTH) throw bad(field, `must be a string of at most ${MAX_NAME_LENGTH} characters`)
}
function checkKey (v: unknown, field: string): asserts v is string {
  if (typeof v !== 'string' || v.length > MAX_KEY_LENGTH) throw bad(field, `must be a string of at most ${MAX_KEY_LENGTH} characters`)
}

function prefix (err: unknown, at: string): Error {
  const e = err as { type?: string, field?: string, message?: string }
  const field = e.field !== undefined ? `${at}.${e.field}` : at
  return new NodeError(e.type ?? 'invalid_payload', `${at}: ${e.message ?? String(err)}`, field)
}
