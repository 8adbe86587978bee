// 'deviceDown' and failover: a device that stopped responding fails each task queued or running on
// it with device_failure, and a clone of each (excludeDevices += that device, linked by
// replaces/replacedBy, same batch and workflow step) is queued in its place. The clone id is derived
// from (original, attempt), so every node makes the same one.

import type { ClusterEvent, Command, TaskRecord } from '../commands.js'
import type { TaskData, TaskErrorData } from '../types.js'
import { failoverClone } from '../failover.js'
import { hashSeed, mulberry32 } from '../rng.js'
import { canTransition } from '../status.js'
import { endInFlight, enqueue, insertTask } from './records.js'
import { LOCAL_ADMIN, type State } from './state.js'
import { moveStep } from './workflows.js'

export function applyDeviceDown (s: State, cmd: Extract<Command, { type: 'deviceDown' }>, events: ClusterEvent[]): void {
  const { deviceId, at } = cmd
  const set = s.onDevice.get(deviceId)
  if (set === undefined) return
  // sorted: a Set's order depends on history, which a restored replica does not share
  const ids = [...set].sort((x, y) => x < y ? -1 : x > y ? 1 : 0)
  for (const id of ids) {
    const rec = s.tasks.get(id) as TaskRecord
    if (!canTransition(rec.status, 'failed')) continue // only queued/running tasks are on a device
    const error: TaskErrorData = { type: 'device_failure', message: `device ${deviceId} stopped responding` }
    const att = endInFlight(s, rec, 'failed', error, at)
    const clone = queueClone(s, rec, deviceId, at)
    rec.replacedBy = clone.id
    moveStep(s, rec, clone)
    // final:false: the work goes on in the clone; waiters follow replacedBy
    events.push({ kind: 'error', taskId: rec.id, attempt: att.attempt, deviceId, at, error, final: false, status: 'failed' })
    events.push({ kind: 'failover', taskId: rec.id, cloneId: clone.id, deviceId, at })
    events.push({ kind: 'submit', taskId: clone.id, at, replaces: rec.id })
  }
  s.onDevice.delete(deviceId)
}

/** A failover clone of rec that excludes deviceId, inserted and queued. */
export function queueClone (s: State, rec: TaskRecord, deviceId: string, at: number): TaskRecord {
  const attempt = rec.attempts.length
  const rng = mulberry32(hashSeed(rec.id + ':' + attempt))
  const data = failoverClone(rec.task, deviceId, { now: Math.max(0, Math.floor(at)), rng })
  // the clone id is derived from (original, attempt) so every node makes the same one
  let id = `${rec.id}-f${attempt}`
  for (let n = 2; s.tasks.has(id); n++) id = `${rec.id}-f${attempt}.${n}`
  const task: TaskData = { ...data, id, replaces: rec.id }
  const clone = insertTask(s, task, rec.submittedBy ?? LOCAL_ADMIN, at, rec.batchId, rec.workflowId)
  enqueue(s, clone, at)
  return clone
}
