// How a task record enters the state and moves through its indexes (status sets and counts, ready
// queue, per-device sets). Every step function changes a record's status, queue membership or
// device only through these, so the invariants written on State's fields hold after each command.

import type { TaskRecord, TaskAttempt } from '../commands.js'
import type { TaskData, TaskErrorData, TaskStatus } from '../types.js'
import { TERMINAL_STATUSES } from '../types.js'
import { canTransition } from '../status.js'
import type { State } from './state.js'

/**
 * Moves rec to status `to`. Legal moves are src/sched/status.ts's table.
 *
 * How an illegal move is kept out — validated before anything changes, not asserted here: every
 * step function asks canTransition in the guard that decides whether its command applies to a task,
 * before it touches that task, and an illegal move is refused with the command's usual outcome
 * (an error reply, a rejected assignment, a stale or ignored result) and changes nothing. An assert
 * here would fire in the middle of a command, after other changes, and would halt every node at the
 * same log index (each applies the same entry): a whole cluster down over a path that may well be
 * legal-but-odd, the way expire of a never-started attempt (queued -> timeout) was missing from the
 * table until it was checked. So reaching an illegal move here is a programmer error in a guard: it
 * is counted in s.illegalTransitions (every replica counts the same) for tests and operators to see,
 * and the move is made, so the indexes stay consistent and the replicas identical.
 */
export function setStatus (s: State, rec: TaskRecord, to: TaskStatus): void {
  const from = rec.status
  if (from === to) return
  if (!canTransition(from, to)) {
    s.illegalTransitions.count++
    s.illegalTransitions.last = { taskId: rec.id, from, to, at: s.applyAt }
  }
  s.byStatus.get(from)!.delete(rec.id)
  s.byStatus.get(to)!.add(rec.id)
  s.counts[from]--
  s.counts[to]++
  rec.status = to
  if (TERMINAL_STATUSES.has(to) && !TERMINAL_STATUSES.has(from)) {
    rec.endedAt = s.applyAt
    s.ended.add(rec)
    if (s.opts.freezeEnded === true) s.toFreeze.push(rec)
  }
}

/**
 * The record to change for a task that may have ended. An ended task's record is never changed in
 * place: it is replaced by a changed copy (the same key, so the map's order stays), and the copy is
 * returned. A snapshot reuses the bytes it encoded for ended records while they are the same
 * objects (src/node/cluster/snapshot-pieces.ts); a change in place would put stale bytes in the
 * next snapshot. Tests freeze ended records (opts.freezeEnded), so any change in place throws there.
 */
export function changeable (s: State, rec: TaskRecord): TaskRecord {
  if (!TERMINAL_STATUSES.has(rec.status)) return rec
  const copy: TaskRecord = { ...rec, attempts: rec.attempts.map(a => ({ ...a })) }
  s.tasks.set(rec.id, copy)
  if (s.opts.freezeEnded === true) s.toFreeze.push(copy)
  return copy
}

/** Freezes the records that ended (or were replaced) in the command just applied (opts.freezeEnded). */
export function freezeEnded (s: State): void {
  for (const rec of s.toFreeze) freezeRecord(rec)
  s.toFreeze.length = 0
}

export function freezeRecord (rec: TaskRecord): void {
  for (const a of rec.attempts) Object.freeze(a)
  Object.freeze(rec.attempts)
  Object.freeze(rec.task.requirements)
  Object.freeze(rec.task)
  Object.freeze(rec)
}

export function enqueue (s: State, rec: TaskRecord, at: number): void {
  // enqueue times never decrease (leaders' clocks differ): a restored queue, re-filled in this
  // order with these times, then ages and orders exactly like the original
  const t = at > s.lastEnqueueAt ? at : s.lastEnqueueAt
  s.lastEnqueueAt = t
  s.queue.enqueue(rec.task, t)
  s.enqueuedAt.delete(rec.id)
  s.enqueuedAt.set(rec.id, t)
}

export function dequeue (s: State, id: string): void {
  if (!s.enqueuedAt.delete(id)) return
  s.queue.remove(id)
}

export function addToDevice (s: State, deviceId: string, id: string): void {
  let set = s.onDevice.get(deviceId)
  if (set === undefined) { set = new Set(); s.onDevice.set(deviceId, set) }
  set.add(id)
}

export function removeFromDevice (s: State, rec: TaskRecord): void {
  if (rec.deviceId === undefined) return
  const set = s.onDevice.get(rec.deviceId)
  if (set === undefined) return
  set.delete(rec.id)
  if (set.size === 0) s.onDevice.delete(rec.deviceId)
}

/** A new pending record (not yet queued: the caller enqueues or blocks it). */
export function insertTask (s: State, data: TaskData, principal: string, at: number, batchId?: string, workflowId?: string): TaskRecord {
  // own copy: the command object may be shared (tests apply one command to several states).
  // Object.assign onto {}, not a spread: V8 gives each object made by {...data} a map of its own
  // once a property is added to it (batchId below), so 2,000 tasks of a batch had 2,000 hidden
  // classes - ~700 of the ~1,700 bytes of heap a finished echo task held (issue 14). Same keys in
  // the same order (decoded objects never carry an own __proto__: msgpackr renames it).
  const task: TaskData = Object.assign({}, data)
  task.requirements = Object.assign({}, data.requirements)
  if (batchId !== undefined) task.batchId = batchId
  if (workflowId !== undefined) task.workflowId = workflowId
  const rec: TaskRecord = {
    id: task.id, taskType: task.taskType, status: 'pending', priority: task.priority, task,
    attempts: [], progress: 0, createdAt: task.createdAt, submittedAt: at, submittedBy: principal
  }
  if (task.batchId !== undefined) rec.batchId = task.batchId
  if (task.workflowId !== undefined) rec.workflowId = task.workflowId
  if (task.replaces !== undefined) rec.replaces = task.replaces
  s.tasks.set(rec.id, rec)
  s.byStatus.get('pending')!.add(rec.id)
  s.counts.pending++
  if (task.idempotencyKey !== undefined) s.idempotency.set(task.idempotencyKey, rec.id)
  return rec
}

/** The current attempt of a task in flight, if (taskId, attempt, deviceId) names it. */
export function current (s: State, taskId: string, attempt: number, deviceId?: string): { rec: TaskRecord, att: TaskAttempt } | undefined {
  const rec = s.tasks.get(taskId)
  if (rec === undefined || (rec.status !== 'queued' && rec.status !== 'running')) return undefined
  if (attempt !== rec.attempts.length) return undefined
  const att = rec.attempts[attempt - 1]
  if (deviceId !== undefined && att.deviceId !== deviceId) return undefined
  return { rec, att }
}

export function markRunning (s: State, rec: TaskRecord, att: TaskAttempt, at: number): void {
  setStatus(s, rec, 'running')
  att.status = 'running'
  att.startedAt = at
  if (rec.startedAt === undefined) rec.startedAt = at
}

/** Off its device and back into the ready queue (a refusal, or a retry after `notBefore`). */
export function backToPending (s: State, rec: TaskRecord, at: number, notBefore: number | undefined): void {
  removeFromDevice(s, rec)
  setStatus(s, rec, 'pending')
  delete rec.deviceId
  if (notBefore !== undefined) rec.notBefore = notBefore
  enqueue(s, rec, at)
}

/**
 * The in-flight attempt of rec ends with `status` and the task with it, for a reason outside the
 * worker's result (its device went down, or a drain hand-off superseded it).
 */
export function endInFlight (s: State, rec: TaskRecord, status: 'failed' | 'cancelled', error: TaskErrorData, at: number): TaskAttempt {
  const att = rec.attempts[rec.attempts.length - 1]
  att.status = status
  att.error = error
  att.finishedAt = at
  removeFromDevice(s, rec)
  setStatus(s, rec, status)
  rec.error = error
  rec.finishedAt = at
  return att
}
