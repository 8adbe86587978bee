// 'cancel': a principal ends a task that has not ended yet (a later result of its running attempt
// is then stale). Cancelling a workflow step cancels what depends on it, recursively (the depth is
// bounded by the workflow's, which validation bounds by MAX_WORKFLOW_STEPS).

import type { ClusterEvent, Command, TaskRecord } from '../commands.js'
import type { TaskErrorData } from '../types.js'
import { canCancel } from '../permissions.js'
import { canTransition } from '../status.js'
import { dequeue, removeFromDevice, setStatus } from './records.js'
import { roleOf } from './settings.js'
import { errorReply, type Reply, type State } from './state.js'
import { stepEnded } from './workflows.js'

export function applyCancel (s: State, cmd: Extract<Command, { type: 'cancel' }>, events: ClusterEvent[]): Reply {
  const rec = s.tasks.get(cmd.taskId)
  if (rec === undefined) return errorReply('not_found', `task ${cmd.taskId} not found`, 'taskId')
  const verdict = canCancel(roleOf(s, cmd.principal), rec.submittedBy === cmd.principal)
  if (!verdict.ok) return errorReply('permission_denied', `principal '${cmd.principal}': ${verdict.reason}`)
  // Cancelling a cancelled task is what was asked for: the same answer again, nothing changed. A
  // cancel resent after a timeout or a leader change (its first copy committed, the answer lost)
  // used to get 409 "already cancelled" for a cancel that had worked. One failed over or handed off
  // was not cancelled by anyone: its clone runs on, and the conflict below names it.
  if (rec.status === 'cancelled' && rec.replacedBy === undefined) return { ok: true, taskIds: [rec.id], duplicate: true }
  if (!canTransition(rec.status, 'cancelled')) { // it has ended already
    const hint = rec.replacedBy !== undefined ? `; it was failed over to ${rec.replacedBy}` : ''
    return errorReply('conflict', `task ${rec.id} is already ${rec.status}${hint}`, 'taskId')
  }
  cancelTask(s, rec, `cancelled by ${cmd.principal}`, cmd.at, events)
  return { ok: true, taskIds: [rec.id], duplicate: false }
}

/** Ends a task that has not ended (pending, blocked, queued or running) as cancelled. */
export function cancelTask (s: State, rec: TaskRecord, message: string, at: number, events: ClusterEvent[]): void {
  const error: TaskErrorData = { type: 'cancelled', message }
  const att = rec.status === 'queued' || rec.status === 'running' ? rec.attempts[rec.attempts.length - 1] : undefined
  if (att !== undefined) { att.status = 'cancelled'; att.error = error; att.finishedAt = at }
  dequeue(s, rec.id)
  s.blocked.delete(rec.id)
  s.localReasons.delete(rec.id)
  if (rec.pendingReason !== undefined) delete rec.pendingReason
  removeFromDevice(s, rec)
  setStatus(s, rec, 'cancelled')
  rec.error = error
  rec.finishedAt = at
  // the leader kills a running attempt on seeing this event (deviceId set)
  const ev: ClusterEvent = { kind: 'error', taskId: rec.id, attempt: att?.attempt ?? rec.attempts.length, at, error, final: true, status: 'cancelled' }
  if (att !== undefined) ev.deviceId = att.deviceId
  events.push(ev)
  cancelDependants(s, rec, 'cancelled', at, events)
}

/** A workflow step ended for good without completing: the steps that depend on it are cancelled. */
export function cancelDependants (s: State, rec: TaskRecord, how: 'failed' | 'cancelled', at: number, events: ClusterEvent[]): void {
  for (const [dep, why] of stepEnded(s, rec, how)) cancelTask(s, dep, why, at, events)
}
