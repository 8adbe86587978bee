// TaskTemplate (the seed's "任务模板"): task specs with `{{var}}` placeholders, instantiated into a
// Workflow. A string that is exactly `{{var}}` takes the variable's value with its type (the seed's
// `"hyperparameters": "{{hyperparams}}"` becomes the object {n_estimators: 100}); inside a longer
// string the value is interpolated (objects as JSON). A missing variable is an error naming it.
// `{{steps.<name>.result...}}` and `{{prev.result...}}` are left alone: they are step results,
// filled in by the cluster when the step becomes ready (see workflow.ts).
//
// Steps are named by the task's `name` (else step1..n) and depend on the previous step unless the
// task declares `depends_on` / `dependsOn` (then exactly those; [] = no deps).

import type { WorkflowStepSpec } from './commands.js'
import { SchedError } from './errors.js'
import { MAX_TEMPLATE_TASKS } from '../protocol/limits.js'
import { isPlainObject } from './requirements.js'
import type { Rng } from './rng.js'
import { Task, parseTaskSpec } from './task.js'
import { isValidTaskId, newTaskId, taskIdTimeMs } from './ids.js'
import { validateWorkflow, type Workflow } from './workflow.js'

/** A template or its variables are wrong; `field` names the variable or spec field. */
export class InvalidTemplateError extends SchedError {
  constructor (message: string, readonly field?: string) {
    super(message, 'invalid_payload')
  }
}

/** Id source for instantiate: fixed (now, rng) for reproducible ids, else Task.idGenerator. */
export interface InstantiateContext { now: number, rng: Rng }

/** Cap on template size: it becomes one submit command (one definition: src/protocol/limits.ts). */
export { MAX_TEMPLATE_TASKS }

const VAR = /\{\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}/g
const WHOLE_VAR = /^\{\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$/

export interface TaskTemplateInit { name: string, description?: string, tasks: Array<Record<string, unknown>> }

export class TaskTemplate {
  readonly name: string
  readonly description: string
  readonly tasks: ReadonlyArray<Record<string, unknown>>

  constructor (init: TaskTemplateInit) {
    if (!isPlainObject(init)) throw new InvalidTemplateError('template must be an object', 'template')
    if (typeof init.name !== 'string' || init.name === '') throw new InvalidTemplateError('template.name must be a non-empty string', 'template.name')
    if (init.description !== undefined && typeof init.description !== 'string') throw new InvalidTemplateError('template.description must be a string', 'template.description')
    if (!Array.isArray(init.tasks) || init.tasks.length === 0) throw new InvalidTemplateError('template.tasks must be a non-empty array', 'template.tasks')
    if (init.tasks.length > MAX_TEMPLATE_TASKS) throw new InvalidTemplateError(`template has ${init.tasks.length} tasks, at most ${MAX_TEMPLATE_TASKS}`, 'template.tasks')
    init.tasks.forEach((t, i) => { if (!isPlainObject(t)) throw new InvalidTemplateError(`template.tasks[${i}] must be an object`, `template.tasks[${i}]`) })
    this.name = init.name
    this.description = init.description ?? ''
    this.tasks = init.tasks
  }

  /** From untrusted JSON (POST /v1/workflows { template, vars }). */
  static fromJSON (x: unknown): TaskTemplate {
    return new TaskTemplate(x as TaskTemplateInit)
  }

  /** Variable names the template uses, in first-use order. */
  variables (): string[] {
    const seen = new Set<string>()
    const walk = (v: unknown): void => {
      if (typeof v === 'string') { for (const m of v.matchAll(VAR)) seen.add(m[1]) } else if (Array.isArray(v)) v.forEach(walk)
      else if (isPlainObject(v)) Object.values(v).forEach(walk)
    }
    this.tasks.forEach(walk)
    return [...seen]
  }

  /**
   * Fills in `vars` and builds a Workflow (validated: unique step names, known deps, no cycle).
   * Throws InvalidTemplateError for a missing variable, InvalidTaskSpecError for a bad task spec,
   * InvalidWorkflowError for a bad step graph.
   */
  instantiate (vars: Record<string, unknown>, ctx?: InstantiateContext): Workflow {
    if (!isPlainObject(vars)) throw new InvalidTemplateError('vars must be an object', 'vars')
    const nextId = ctx === undefined ? () => Task.idGenerator() : () => newTaskId(ctx.now, ctx.rng)
    const steps: WorkflowStepSpec[] = []
    for (let i = 0; i < this.tasks.length; i++) {
      const filled = fill(this.tasks[i], vars, `tasks[${i}]`) as Record<string, unknown>
      const { name, depends_on: dependsSnake, dependsOn: dependsCamel, ...spec } = filled
      const stepName = name === undefined ? `step${i + 1}` : name
      if (typeof stepName !== 'string' || stepName === '') throw new InvalidTemplateError(`tasks[${i}].name must be a non-empty string`, `tasks[${i}].name`)
      const deps = dependsCamel ?? dependsSnake
      if (deps !== undefined && (!Array.isArray(deps) || deps.some(d => typeof d !== 'string'))) {
        throw new InvalidTemplateError(`tasks[${i}].depends_on must be an array of step names`, `tasks[${i}].depends_on`)
      }
      const id = spec.id ?? nextId()
      // createdAt defaults to the id's time (ids are ULIDs), so no clock is needed here
      const now = isValidTaskId(id) ? taskIdTimeMs(id) : (ctx?.now ?? 0)
      const task = parseTaskSpec({ ...spec, id }, { now, rng: ctx?.rng ?? (() => 0) })
      steps.push({ name: stepName, task, dependsOn: deps !== undefined ? [...deps as string[]] : (i === 0 ? [] : [steps[i - 1].name]) })
    }
    const wf: Workflow = { id: nextId(), name: this.name, steps }
    for (const s of steps) s.task.workflowId = wf.id
    return validateWorkflow(wf)
  }

  toJSON (): TaskTemplateInit {
    return { name: this.name, description: this.description, tasks: [...this.tasks] }
  }
}

/** Replaces `{{var}}` placeholders in a JSON-like value; `path` locates errors. */
export function fill (value: unknown, vars: Record<string, unknown>, path: string): unknown {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return value
    const whole = WHOLE_VAR.exec(value)
    if (whole !== null) return lookupVar(vars, whole[1], path)
    return value.replace(VAR, (_m, name: string) => {
      const v = lookupVar(vars, name, path)
      return typeof v === 'string' ? v : JSON.stringify(v)
    })
  }
  if (Array.isArray(value)) return value.map((v, i) => fill(v, vars, `${path}[${i}]`))
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = fill(v, vars, `${path}.${k}`)
    return out
  }
  return value
}

function lookupVar (vars: Record<string, unknown>, name: string, path: string): unknown {
  if (!Object.hasOwn(vars, name) || vars[name] === undefined) {
    throw new InvalidTemplateError(`missing template variable '${name}' (used in ${path})`, `vars.${name}`)
  }
  return vars[name]
}
