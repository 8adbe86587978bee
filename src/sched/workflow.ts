// Workflows: named steps (a task each) with dependsOn edges forming a DAG. This file holds the pure
// parts: validation (unique names, known deps, no cycles), a topological order, and the
// `{{steps.<name>.result.<path>}}` / `{{prev.result.<path>}}` substitution a step's payload gets when
// its dependencies have completed. The cluster state machine drives progression; the node layer
// submits a Workflow as one atomic 'submit' command.

import type { TaskData } from './types.js'
import type { WorkflowInfo, WorkflowStepSpec } from './commands.js'
import { SchedError } from './errors.js'
import { MAX_WORKFLOW_STEPS } from '../protocol/limits.js'

/** A workflow ready to submit: the same shape the 'submit' command carries. */
export interface Workflow extends WorkflowInfo {}

/** Bad workflow shape: names the offending step (and field) so the user can fix it. */
export class InvalidWorkflowError extends SchedError {
  constructor (message: string, readonly field?: string, readonly step?: string) {
    super(message, 'invalid_payload')
  }
}

/** Upper bound on steps per workflow (one definition: src/protocol/limits.ts, the decoder's own). */
export { MAX_WORKFLOW_STEPS }

/** The wire's cap on steps (MAX_WORKFLOW_STEPS): a bigger workflow could never be a Raft entry. */
export function checkWorkflowSize (wf: { steps?: unknown }): InvalidWorkflowError | undefined {
  if (Array.isArray(wf.steps) && wf.steps.length > MAX_WORKFLOW_STEPS) {
    return new InvalidWorkflowError(`workflow has ${wf.steps.length} steps, at most ${MAX_WORKFLOW_STEPS} allowed`, 'workflow.steps')
  }
  return undefined
}

/**
 * Checks a workflow's step graph (any size: the walks are iterative; the size cap is
 * checkWorkflowSize, which the entry decoder enforces again before anything is applied). Returns
 * the first problem as an InvalidWorkflowError, or undefined. Never throws, so the state machine
 * can turn the result into an error reply.
 */
export function checkWorkflow (wf: { id?: unknown, name?: unknown, steps?: unknown }): InvalidWorkflowError | undefined {
  if (typeof wf.id !== 'string' || wf.id === '') return new InvalidWorkflowError('workflow.id must be a non-empty string', 'workflow.id')
  if (!Array.isArray(wf.steps) || wf.steps.length === 0) return new InvalidWorkflowError('workflow.steps must be a non-empty array', 'workflow.steps')
  const steps = wf.steps as WorkflowStepSpec[]
  const names = new Set<string>()
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]
    if (s == null || typeof s !== 'object') return new InvalidWorkflowError(`workflow.steps[${i}] must be an object`, `workflow.steps[${i}]`)
    if (typeof s.name !== 'string' || s.name === '') return new InvalidWorkflowError(`workflow.steps[${i}].name must be a non-empty string`, `workflow.steps[${i}].name`)
    if (names.has(s.name)) return new InvalidWorkflowError(`duplicate step name '${s.name}'`, `workflow.steps[${i}].name`, s.name)
    names.add(s.name)
    if (s.task == null || typeof s.task !== 'object') return new InvalidWorkflowError(`step '${s.name}' has no task`, `workflow.steps[${i}].task`, s.name)
    if (!Array.isArray(s.dependsOn)) return new InvalidWorkflowError(`step '${s.name}': dependsOn must be an array of step names`, `workflow.steps[${i}].dependsOn`, s.name)
  }
  for (let i = 0; i < steps.length; i++) {
    for (const d of steps[i].dependsOn) {
      if (!names.has(d)) return new InvalidWorkflowError(`step '${steps[i].name}' depends on unknown step '${d}'`, `workflow.steps[${i}].dependsOn`, steps[i].name)
      if (d === steps[i].name) return new InvalidWorkflowError(`step '${d}' depends on itself`, `workflow.steps[${i}].dependsOn`, d)
    }
  }
  const cycle = findCycle(steps)
  if (cycle !== undefined) return new InvalidWorkflowError(`dependency cycle: ${cycle.join(' -> ')}`, 'workflow.steps', cycle[0])
  return undefined
}

/** Throwing variant of checkWorkflow for builders (template, chain, node API). */
export function validateWorkflow (wf: Workflow): Workflow {
  const err = checkWorkflowSize(wf) ?? checkWorkflow(wf)
  if (err !== undefined) throw err
  return wf
}

/** Kahn's algorithm; returns step names in an order where every dep comes first, or undefined on a cycle. */
export function topologicalOrder (steps: readonly WorkflowStepSpec[]): string[] | undefined {
  const indeg = new Map<string, number>()
  const out = new Map<string, string[]>()
  for (const s of steps) { indeg.set(s.name, s.dependsOn.length); out.set(s.name, []) }
  for (const s of steps) for (const d of s.dependsOn) out.get(d)?.push(s.name)
  const ready: string[] = []
  for (const s of steps) if (s.dependsOn.length === 0) ready.push(s.name)
  const order: string[] = []
  while (ready.length > 0) {
    const n = ready.shift() as string
    order.push(n)
    for (const m of out.get(n) ?? []) {
      const k = (indeg.get(m) as number) - 1
      indeg.set(m, k)
      if (k === 0) ready.push(m)
    }
  }
  return order.length === steps.length ? order : undefined
}

/** Depth-first search for a cycle; returns it as a path of names (first = last), or undefined. */
function findCycle (steps: readonly WorkflowStepSpec[]): string[] | undefined {
  const deps = new Map<string, string[]>()
  for (const s of steps) deps.set(s.name, s.dependsOn)
  const state = new Map<string, 1 | 2>() // 1 = on the stack, 2 = done
  for (const s of steps) {
    if (state.has(s.name)) continue
    // iterative DFS: a deep chain of 10,000 steps must not overflow the call stack
    const stack: Array<{ name: string, i: number }> = [{ name: s.name, i: 0 }]
    state.set(s.name, 1)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]
      const ds = deps.get(top.name) as string[]
      if (top.i >= ds.length) { state.set(top.name, 2); stack.pop(); continue }
      const d = ds[top.i++]
      const st = state.get(d)
      if (st === 1) {
        const from = stack.findIndex(f => f.name === d)
        return [...stack.slice(from).map(f => f.name), d].reverse()
      }
      if (st === undefined) { state.set(d, 1); stack.push({ name: d, i: 0 }) }
    }
  }
  return undefined
}

const REF = /\{\{\s*(steps\.([^.}\s]+)|prev)\.result((?:\.[^.}\s]+)*)\s*\}\}/g
const WHOLE_REF = /^\{\{\s*(steps\.([^.}\s]+)|prev)\.result((?:\.[^.}\s]+)*)\s*\}\}$/

/** Results of completed steps, by step name; `prev` names the step's last dependency (in a chain: the step before). */
export interface StepResults { byName: Pick<ReadonlyMap<string, unknown>, 'has' | 'get'>, prev?: string }

/** True when the value contains a step-result placeholder anywhere (cheap pre-check). */
export function hasStepRefs (value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{') && (value.includes('steps.') || value.includes('prev.'))
  if (Array.isArray(value)) return value.some(hasStepRefs)
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasStepRefs)
  return false
}

/**
 * Replaces step-result placeholders in a payload. A string that is only a placeholder takes the
 * referenced value with its type; inside a longer string the value is interpolated (objects as
 * JSON). A reference to an unknown step or a missing path becomes undefined / '' — the step still
 * runs, and its handler sees the gap (a workflow cannot fail validation after it was accepted).
 */
export function substituteStepRefs (value: unknown, results: StepResults): unknown {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return value
    const whole = WHOLE_REF.exec(value)
    if (whole !== null) return lookup(results, whole[1], whole[2], whole[3])
    return value.replace(REF, (_m, head: string, name: string | undefined, path: string) => {
      const v = lookup(results, head, name, path)
      if (v === undefined) return ''
      return typeof v === 'string' ? v : JSON.stringify(v)
    })
  }
  if (Array.isArray(value)) return value.map(v => substituteStepRefs(v, results))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = substituteStepRefs(v, results)
    return out
  }
  return value
}

function lookup (results: StepResults, head: string, name: string | undefined, path: string): unknown {
  const step = head === 'prev' ? results.prev : name
  if (step === undefined || !results.byName.has(step)) return undefined
  let v: unknown = results.byName.get(step)
  if (path === '') return v
  for (const key of path.slice(1).split('.')) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[key]
  }
  return v
}

/** Builds a step list from tasks: each step depends on the previous one (a chain). */
export function chainSteps (tasks: readonly TaskData[], names?: readonly string[]): WorkflowStepSpec[] {
  return tasks.map((task, i) => ({
    name: names?.[i] ?? `step${i + 1}`,
    task,
    dependsOn: i === 0 ? [] : [names?.[i - 1] ?? `step${i}`]
  }))
}
