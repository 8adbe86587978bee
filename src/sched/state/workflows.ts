// Workflows and chains (a chain is a workflow whose every step depends on the one before it). A
// step whose dependencies have not all completed is pending but blocked: out of the ready queue,
// with a pendingReason. When its last dependency completes, its payload's step references
// ({{steps.x.result}}, {{prev.result}}) are filled in and it is queued. When a step ends for good
// without completing, every step that depends on it is cancelled and the workflow fails.

import type { TaskRecord, WorkflowInfo } from '../commands.js'
import { canTransition } from '../status.js'
import { hasStepRefs, substituteStepRefs } from '../workflow.js'
import { enqueue } from './records.js'
import type { State, WorkflowIndex, WorkflowState } from './state.js'

export function insertWorkflow (s: State, w: WorkflowInfo, ids: string[], at: number): void {
  const wf: WorkflowState = {
    id: w.id, name: typeof w.name === 'string' ? w.name : w.id, status: 'running', completedSteps: 0, createdAt: at,
    steps: w.steps.map((step, i) => ({ name: step.name, taskId: ids[i], dependsOn: step.dependsOn.slice() }))
  }
  s.workflows.set(wf.id, wf)
  indexWorkflow(s, wf)
  for (const step of wf.steps) {
    if (step.dependsOn.length === 0) continue
    const rec = s.tasks.get(step.taskId) as TaskRecord
    s.blocked.add(rec.id)
    rec.pendingReason = `waiting for step${step.dependsOn.length > 1 ? 's' : ''} ${step.dependsOn.map(d => `'${d}'`).join(', ')}`
  }
}

/** The derived indexes of a workflow (by step name, dependants, step of each task); rebuilt on restore. */
export function indexWorkflow (s: State, wf: WorkflowState): void {
  const byName = new Map<string, number>()
  const dependants: number[][] = wf.steps.map(() => [])
  wf.steps.forEach((step, i) => { byName.set(step.name, i); s.stepOf.set(step.taskId, { wf: wf.id, step: i }) })
  wf.steps.forEach((step, i) => { for (const d of step.dependsOn) dependants[byName.get(d) as number].push(i) })
  s.wfIndex.set(wf.id, { byName, dependants })
}

/** A step completed: dependants whose dependencies have all completed are queued. */
export function onStepCompleted (s: State, rec: TaskRecord, at: number): void {
  const pos = s.stepOf.get(rec.id)
  if (pos === undefined) return
  const wf = s.workflows.get(pos.wf) as WorkflowState
  const idx = s.wfIndex.get(pos.wf) as WorkflowIndex
  wf.completedSteps++
  for (const d of idx.dependants[pos.step]) maybeUnblock(s, wf, idx, d, at)
  if (wf.completedSteps === wf.steps.length && wf.status === 'running') wf.status = 'completed'
}

function maybeUnblock (s: State, wf: WorkflowState, idx: WorkflowIndex, stepIdx: number, at: number): void {
  const step = wf.steps[stepIdx]
  const rec = s.tasks.get(step.taskId) as TaskRecord
  if (!s.blocked.has(rec.id)) return
  for (const d of step.dependsOn) {
    if (stepTask(s, wf, idx, d)?.status !== 'completed') return
  }
  // `prev` is the step's last dependency (in a chain: the step before it)
  const prevName = step.dependsOn.length > 0 ? step.dependsOn[step.dependsOn.length - 1] : undefined
  if (hasStepRefs(rec.task.payload)) {
    // any completed step of the workflow may be referenced, not only direct deps
    const byName = {
      has: (n: string) => stepTask(s, wf, idx, n)?.status === 'completed',
      get: (n: string) => stepTask(s, wf, idx, n)?.result
    }
    rec.task = { ...rec.task, payload: substituteStepRefs(rec.task.payload, { byName, prev: prevName }) }
  }
  s.blocked.delete(rec.id)
  delete rec.pendingReason
  enqueue(s, rec, at)
}

function stepTask (s: State, wf: WorkflowState, idx: WorkflowIndex, name: string): TaskRecord | undefined {
  const i = idx.byName.get(name)
  return i === undefined ? undefined : s.tasks.get(wf.steps[i].taskId)
}

/**
 * A step ended for good without completing: the workflow fails (or is cancelled). Yields each
 * dependant still unfinished when it is reached, with why it must be cancelled; the caller cancels
 * it before the next is looked at (so one cancelled through another is not cancelled twice).
 */
export function * stepEnded (s: State, rec: TaskRecord, how: 'failed' | 'cancelled'): Generator<[TaskRecord, string]> {
  const pos = s.stepOf.get(rec.id)
  if (pos === undefined) return
  const wf = s.workflows.get(pos.wf) as WorkflowState
  const idx = s.wfIndex.get(pos.wf) as WorkflowIndex
  if (wf.status === 'running') wf.status = how
  const stepName = wf.steps[pos.step].name
  for (const d of idx.dependants[pos.step]) {
    const dep = s.tasks.get(wf.steps[d].taskId) as TaskRecord
    if (!canTransition(dep.status, 'cancelled')) continue // it has ended already
    yield [dep, `dependency '${stepName}' ${rec.status}`]
  }
}

/** A workflow step now points at the clone, so progression waits for (and reads) the clone. */
export function moveStep (s: State, orig: TaskRecord, clone: TaskRecord): void {
  const pos = s.stepOf.get(orig.id)
  if (pos === undefined) return
  const wf = s.workflows.get(pos.wf) as WorkflowState
  wf.steps[pos.step].taskId = clone.id
  s.stepOf.set(clone.id, pos)
}
