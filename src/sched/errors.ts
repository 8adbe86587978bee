// Typed errors of the scheduling core. Bad input from the world gets one of these (with a message a
// user can act on and, where it applies, the field at fault); programmer errors are plain asserts.

import type { TaskStatus } from './types.js'

/** Base of every error src/sched throws on purpose. `type` is the wire error class (TaskErrorType-like). */
export class SchedError extends Error {
  readonly type: string
  constructor (message: string, type = 'sched_error') {
    super(message)
    this.name = new.target.name
    this.type = type
  }
}

/** A task spec (or part of it) is malformed. `field` is the dotted path, e.g. `requirements.min_cpu_cores`. */
export class InvalidTaskSpecError extends SchedError {
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`, 'invalid_payload')
    this.field = field
  }
}

/** An option given to a core class (RetryPolicy, TaskQueue) is out of range. */
export class InvalidOptionError extends SchedError {
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`, 'invalid_option')
    this.field = field
  }
}

/** The queue is at maxSize; the task was not added and nothing was dropped. */
export class QueueFullError extends SchedError {
  readonly maxSize: number
  constructor (maxSize: number) {
    super(`task queue is full (maxSize ${maxSize}); retry later`, 'queue_full')
    this.maxSize = maxSize
  }
}

/** A task id is already in the queue; enqueueing it twice would run it twice. */
export class DuplicateTaskError extends SchedError {
  readonly taskId: string
  constructor (taskId: string) {
    super(`task ${taskId} is already queued`, 'duplicate_task')
    this.taskId = taskId
  }
}

/** A status change the lifecycle does not allow (see status.ts). */
export class IllegalTransitionError extends SchedError {
  readonly from: TaskStatus
  readonly to: TaskStatus
  constructor (from: TaskStatus, to: TaskStatus) {
    super(`illegal task status transition ${from} -> ${to}`, 'illegal_transition')
    this.from = from
    this.to = to
  }
}

/** The principal's role does not grant what the request needs. */
export class PermissionDeniedError extends SchedError {
  constructor (message: string) {
    super(message, 'permission_denied')
  }
}
