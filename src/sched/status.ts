// The task lifecycle. Every status change goes through canTransition/assertTransition, so an
// illegal change (a completed task "running" again, a late result reviving a cancelled task) is
// an error instead of a silent overwrite.
//
//   pending ──> queued ──> running ──> completed
//     │  ^        │  │        │ ──> failed ──┐
//     │  └────────┘  │        │ ──> timeout ─┤ (retry scheduled: back to pending)
//     │              │        │ ──> cancelled
//     │              │        └──> pending   (worker refused the assignment / retry)
//     └─> running, cancelled, failed (pending may fail outright, e.g. permission_denied)
//   queued ──> pending (unqueued, e.g. waiting for a capable device), cancelled, failed
//
// completed and cancelled are final. failed and timeout are final unless a retry is scheduled
// (-> pending); whether one is, is RetryPolicy's decision, not this table's.

import { IllegalTransitionError } from './errors.js'
import type { TaskStatus } from './types.js'

const LEGAL: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  pending: ['queued', 'running', 'cancelled', 'failed'],
  queued: ['running', 'pending', 'cancelled', 'failed'],
  running: ['completed', 'failed', 'timeout', 'cancelled', 'pending'],
  failed: ['pending'],
  timeout: ['pending'],
  completed: [],
  cancelled: []
}

export function canTransition (from: TaskStatus, to: TaskStatus): boolean {
  const next = LEGAL[from]
  return next !== undefined && next.includes(to)
}

/** Throws IllegalTransitionError unless from -> to is legal. */
export function assertTransition (from: TaskStatus, to: TaskStatus): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to)
}

/** The statuses reachable from `from` in one step. */
export function nextStatuses (from: TaskStatus): readonly TaskStatus[] {
  return LEGAL[from] ?? []
}
