// The task lifecycle: the one table of legal status changes. The replicated state machine
// (src/sched/state/) asks it before every status change it makes (canTransition), so the table and
// the code cannot drift apart again; test/unit/state-transitions.test.ts checks that every change
// made by long random command streams is in it.
//
// Each edge, and the command that makes it (src/sched/state/<file>):
//   pending ──> queued     assign                          (assignment.ts)
//   pending ──> cancelled  cancel, or a workflow dependency ended without completing (cancel.ts),
//                          or a drain hand-off's clone is not needed any more (handoff.ts)
//   queued ──> running     started, or a result arriving before 'started' (assignment/results.ts)
//   queued ──> pending     refused (not a retry), or expire with a retry left (results.ts)
//   queued ──> timeout     expire with no retry left: the attempt never reported (results.ts)
//   queued ──> failed      deviceDown: the device died before the task started (device-down.ts)
//   queued ──> cancelled   cancel, or a hand-off released it (cancel.ts, handoff.ts)
//   running ──> completed  a completed result
//   running ──> pending    a failed/timed-out result or expire with a retry left (after a backoff),
//                          or preempt: urgent work takes the slot, no retry used (preempt.ts)
//   running ──> failed | timeout | cancelled   a result with no retry left, expire, deviceDown, cancel, hand-off
//
// completed, failed, timeout and cancelled are final. A retry does not pass through failed: the
// attempt records the failure and the task goes straight back to pending. A failover does not
// revive the failed task either: its clone is a new task (replaces/replacedBy). So nothing leaves a
// final status, and a late result can never revive a task. (An earlier version of this table allowed
// failed/timeout -> pending and pending -> running/failed, which no command does, and lacked
// queued -> timeout, which expire does; nothing checked it then.)

import { IllegalTransitionError } from './errors.js'
import type { TaskStatus } from './types.js'

const LEGAL: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  pending: ['queued', 'cancelled'],
  queued: ['running', 'pending', 'cancelled', 'failed', 'timeout'],
  running: ['completed', 'failed', 'timeout', 'cancelled', 'pending'],
  failed: [],
  timeout: [],
  completed: [],
  cancelled: []
}

export function canTransition (from: TaskStatus, to: TaskStatus): boolean {
  const next = Object.hasOwn(LEGAL, from) ? LEGAL[from] : undefined
  return next !== undefined && next.includes(to)
}

/** Throws IllegalTransitionError unless from -> to is legal. */
export function assertTransition (from: TaskStatus, to: TaskStatus): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to)
}

/** The statuses reachable from `from` in one step. */
export function nextStatuses (from: TaskStatus): readonly TaskStatus[] {
  return Object.hasOwn(LEGAL, from) ? LEGAL[from] : []
}
