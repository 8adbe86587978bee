// Typed errors of the HTTP API, and the one place that turns any thrown error into a status code and
// the contract's `{ error: { type, message, field? } }` body. Errors from src/sched and the node carry
// a string `type` (and maybe `field`); we map those by type, never by class, so layers stay decoupled.

/** An error the API answers with a definite status. */
export class ApiError extends Error {
  readonly status: number
  readonly type: string
  readonly field?: string
  constructor (status: number, type: string, message: string, field?: string) {
    super(message)
    this.name = new.target.name
    this.status = status
    this.type = type
    if (field !== undefined) this.field = field
  }
}

/** 400: the request is malformed; `field` names the culprit. */
export class InvalidRequestError extends ApiError {
  constructor (field: string | undefined, message: string) {
    super(400, 'invalid_payload', message, field)
  }
}

export class UnauthorizedError extends ApiError {
  constructor () {
    super(401, 'unauthorized', 'missing or wrong bearer token (see <data-dir>/api-token)')
  }
}

export class NotFoundError extends ApiError {
  constructor (what: string) {
    super(404, 'not_found', `${what} not found`)
  }
}

export class MethodNotAllowedError extends ApiError {
  constructor (method: string, path: string) {
    super(405, 'method_not_allowed', `${method} is not allowed on ${path}`)
  }
}

export class PayloadTooLargeError extends ApiError {
  constructor (limitBytes: number) {
    super(413, 'payload_too_large', `request body exceeds ${limitBytes} bytes`)
  }
}

/** Status per error `type`, for errors thrown by the scheduler and the node. */
const STATUS_BY_TYPE: Record<string, number> = {
  invalid_payload: 400,
  invalid_option: 400,
  invalid_template: 400,
  unsupported_operation: 400,
  unauthorized: 401,
  permission_denied: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  duplicate_task: 409,
  illegal_transition: 409,
  already_finished: 409,
  payload_too_large: 413,
  no_leader: 503,
  queue_full: 503,
  unavailable: 503,
  // the leader could not be reached in the write's time, or this node is stopping: retryable, as
  // no_leader is (a 500 told clients that retry on 503 not to)
  network_error: 503,
  stopped: 503,
  timeout: 504
}

export interface ErrorBody { error: { type: string, message: string, field?: string } }

/** Maps anything thrown to (status, body). Unknown errors become 500 internal_error. */
export function toErrorResponse (err: unknown): { status: number, body: ErrorBody } {
  if (err instanceof ApiError) return { status: err.status, body: errorBody(err.type, err.message, err.field) }
  const e = err as { type?: unknown, message?: unknown, field?: unknown } | undefined
  const type = typeof e?.type === 'string' ? e.type : undefined
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err)
  const field = typeof e?.field === 'string' ? e.field : undefined
  if (type !== undefined && STATUS_BY_TYPE[type] !== undefined) {
    return { status: STATUS_BY_TYPE[type], body: errorBody(type, message, field) }
  }
  return { status: 500, body: errorBody(type ?? 'internal_error', message, field) }
}

function errorBody (type: string, message: string, field?: string): ErrorBody {
  return field === undefined ? { error: { type, message } } : { error: { type, message, field } }
}
