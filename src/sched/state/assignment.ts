// 'assign', 'started', 'refused': the leader's scheduler places ready tasks on devices (an attempt
// each), a worker says it started one, or refuses it (no capacity: back to the queue, not a retry).
// Every check is against (taskId, attempt, deviceId), so a stale or repeated command changes nothing.

import type { ClusterEvent, Command, TaskRecord } from '../commands.js'
import { canTransition } from '../status.js'
import { addToDevice, backToPending, current, dequeue, markRunning, setStatus } from './records.js'
import type { Rejected, State } from './state.js'

export function applyAssign (s: State, cmd: Extract<Command, { type: 'assign' }>, events: ClusterEvent[]): Rejected | undefined {
  if (!Array.isArray(cmd.assignments)) return undefined
  let rejected: Rejected | undefined
  for (const a of cmd.assignments) {
    if (a == null || typeof a !== 'object') continue
    const why = assignProblem(s, a, cmd.at)
    if (why !== undefined) {
      (rejected ??= []).push({ taskId: String(a.taskId), attempt: a.attempt, deviceId: String(a.deviceId), reason: why })
      continue
    }
    const rec = s.tasks.get(a.taskId) as TaskRecord
    dequeue(s, rec.id)
    setStatus(s, rec, 'queued')
    rec.deviceId = a.deviceId
    rec.attempts.push({ attempt: a.attempt, deviceId: a.deviceId, status: 'queued', assignedAt: cmd.at })
    addToDevice(s, a.deviceId, rec.id)
    s.localReasons.delete(rec.id)
    if (rec.pendingReason !== undefined) delete rec.pendingReason
    events.push({ kind: 'schedule', taskId: rec.id, attempt: a.attempt, deviceId: a.deviceId, at: cmd.at })
  }
  return rejected
}

/** Why an assignment cannot be applied, or undefined when it can. */
function assignProblem (s: State, a: { taskId: string, attempt: number, deviceId: string, relaxed?: boolean }, at: number): string | undefined {
  const rec = s.tasks.get(a.taskId)
  if (rec === undefined) return 'unknown task'
  if (!canTransition(rec.status, 'queued')) return `task is ${rec.status}` // only a pending task
  if (!s.enqueuedAt.has(rec.id)) return 'task is waiting for its workflow dependencies'
  if (rec.notBefore !== undefined && rec.notBefore > at) return 'retry backoff has not passed'
  if (a.attempt !== rec.attempts.length + 1) return `attempt ${a.attempt} is not the next one (${rec.attempts.length + 1})`
  if (typeof a.deviceId !== 'string' || a.deviceId === '') return 'no device id'
  // a failover clone goes back to a device its chain failed on only when the planner says no other
  // device could take it (relaxed); a user's own exclusions always hold
  if (rec.task.requirements.excludeDevices.includes(a.deviceId) && !(a.relaxed === true && rec.task.failedOn?.includes(a.deviceId) === true)) return 'device is excluded'
  return undefined
}

export function applyStarted (s: State, cmd: Extract<Command, { type: 'started' }>, events: ClusterEvent[]): void {
  const cur = current(s, cmd.taskId, cmd.attempt, cmd.deviceId)
  if (cur === undefined || !canTransition(cur.rec.status, 'running')) return // stale or duplicate (already running): nothing to do
  markRunning(s, cur.rec, cur.att, cmd.at)
  events.push({ kind: 'start', taskId: cmd.taskId, attempt: cmd.attempt, deviceId: cmd.deviceId, at: cmd.at })
}

/** A refusal is not a lifecycle event (no event): the task simply waits for the next plan. */
export function applyRefused (s: State, cmd: Extract<Command, { type: 'refused' }>): void {
  const cur = current(s, cmd.taskId, cmd.attempt, cmd.deviceId)
  if (cur === undefined || !canTransition(cur.rec.status, 'pending')) return
  const { rec, att } = cur
  att.status = 'failed'
  att.finishedAt = cmd.at
  att.error = { type: 'resource_exhausted', message: `refused by ${cmd.deviceId}: ${String(cmd.reason)}` }
  att.refused = true
  backToPending(s, rec, cmd.at, undefined)
}
