// Typed failures a handler (or the executor on its behalf) raises. Each carries the TaskErrorType the
// cluster records, so the retry policy can tell "try elsewhere" (timeout_error, resource_exhausted)
// from "never retry" (invalid_payload, permission_denied, unsupported_operation).

import type { TaskErrorData, TaskErrorType } from '../../sched/types.js'

export class TaskFailure extends Error {
  readonly type: TaskErrorType
  readonly details?: unknown
  constructor (type: TaskErrorType, message: string, details?: unknown) {
    super(message)
    this.name = 'TaskFailure'
    this.type = type
    this.details = details
  }

  toData (): TaskErrorData {
    return this.details === undefined
      ? { type: this.type, message: this.message }
      : { type: this.type, message: this.message, details: this.details }
  }
}

/** The payload does not have the shape the handler needs; `field` names the offending field. */
export class InvalidPayloadError extends TaskFailure {
  readonly field: string
  constructor (field: string, message: string) {
    super('invalid_payload', field === '' ? `payload: ${message}` : `payload.${field}: ${message}`, { field })
    this.name = 'InvalidPayloadError'
    this.field = field
  }
}

export class PermissionDeniedError extends TaskFailure {
  constructor (message: string, details?: unknown) {
    super('permission_denied', message, details)
    this.name = 'PermissionDeniedError'
  }
}

export class UnsupportedOperationError extends TaskFailure {
  constructor (message: string, details?: unknown) {
    super('unsupported_operation', message, details)
    this.name = 'UnsupportedOperationError'
  }
}

export class ResourceExhaustedError extends TaskFailure {
  constructor (message: string, details?: unknown) {
    super('resource_exhausted', message, details)
    this.name = 'ResourceExhaustedError'
  }
}

export class ExecutionError extends TaskFailure {
  constructor (message: string, details?: unknown) {
    super('execution_error', message, details)
    this.name = 'ExecutionError'
  }
}

/** A handler module could not be loaded or exported nothing usable (node start-up, not a task). */
export class HandlerLoadError extends Error {
  readonly modulePath: string
  constructor (modulePath: string, message: string) {
    super(`handler module ${modulePath}: ${message}`)
    this.name = 'HandlerLoadError'
    this.modulePath = modulePath
  }
}

/** Two handlers claim the same task type. */
export class DuplicateHandlerError extends Error {
  constructor (taskType: string) {
    super(`a handler for task type "${taskType}" is already registered`)
    this.name = 'DuplicateHandlerError'
  }
}

/** Map anything a handler threw to the recorded error. Unknown throws are execution errors. */
export function toErrorData (err: unknown): TaskErrorData {
  if (err instanceof TaskFailure) return err.toData()
  // Always a fresh plain object: an Error instance (or anything with extra fields) must not reach
  // the wire and the Raft log, whose schema expects exactly { type, message, details? }.
  if (isErrorData(err)) {
    const out: TaskErrorData = { type: err.type, message: err.message.slice(0, 4000) }
    const details = plainData((err as { details?: unknown }).details)
    if (details !== undefined) out.details = details
    return out
  }
  const message = err instanceof Error ? err.message : String(err)
  return { type: 'execution_error', message: message.slice(0, 4000) }
}

/** a JSON copy (no class instances, functions or cycles) small enough for the log, else undefined */
function plainData (v: unknown): unknown {
  if (v === undefined) return undefined
  try {
    const s = JSON.stringify(v)
    return s === undefined || s.length > 64 * 1024 ? undefined : JSON.parse(s)
  } catch { return undefined }
}

const ERROR_TYPES = new Set<string>(['network_error', 'timeout_error', 'resource_exhausted', 'invalid_payload',
  'permission_denied', 'unsupported_operation', 'device_failure', 'execution_error', 'cancelled'])

function isErrorData (v: unknown): v is TaskErrorData {
  if (v === null || typeof v !== 'object') return false
  const o = v as { type?: unknown, message?: unknown }
  return typeof o.type === 'string' && ERROR_TYPES.has(o.type) && typeof o.message === 'string'
}
