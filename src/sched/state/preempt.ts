// 'preempt': the leader stops a running low-priority attempt to make room for urgent work waiting
// for a slot (the choice is ../preemption.ts). The attempt ends 'cancelled' with error type
// 'preempted' and the task goes straight back to the ready queue: no retry is used (retryCount is
// unchanged, no backoff) and its device is not charged (preempted is never the device's fault, see
// ../reliability.ts). The leader kills the process on the 'error' event (status cancelled, deviceId
// set), the same way as a cancel; the worker's late result of that attempt is then stale.
// Checked against (taskId, attempt, deviceId): a repeated or stale proposal changes nothing.

import type { ClusterEvent, Command } from '../commands.js'
import type { TaskErrorData } from '../types.js'
import { canTransition } from '../status.js'
import { backToPending, current } from './records.js'
import type { State } from './state.js'

export function applyPreempt (s: State, cmd: Extract<Command, { type: 'preempt' }>, events: ClusterEvent[]): void {
  if (typeof cmd.taskId !== 'string' || typeof cmd.deviceId !== 'string' || typeof cmd.at !== 'number') return
  const cur = current(s, cmd.taskId, cmd.attempt, cmd.deviceId)
  if (cur === undefined || cur.rec.status !== 'running' || !canTransition(cur.rec.status, 'pending')) return
  const { rec, att } = cur
  const forTask = typeof cmd.forTaskId === 'string' ? cmd.forTaskId : 'urgent work'
  const error: TaskErrorData = { type: 'preempted', message: `preempted on ${cmd.deviceId} to make room for ${forTask}; requeued without a retry` }
  att.status = 'cancelled'
  att.error = error
  att.finishedAt = cmd.at
  backToPending(s, rec, cmd.at, undefined)
  // final:false: the task is back in the queue; the leader kills the attempt's process on this event
  events.push({ kind: 'error', taskId: rec.id, attempt: att.attempt, deviceId: cmd.deviceId, at: cmd.at, error, final: false, status: 'cancelled' })
}
