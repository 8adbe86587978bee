// A worker's result made to fit what the wire and the log take (AttemptResultSchema): a result
// that does not fit is refused by the leader on every resend, and since a worker reports its
// results oldest first in one batch, one such result held back every later one of that worker for
// good (a 6 KB permission error of a file handler, a failing command's 64 KB of output as details,
// a 2 MB file read). What does not fit is cut down and said so, never dropped silently: an
// over-long message is shortened, oversized details are left out, a result over MAX_RESULT_BYTES
// makes the attempt failed with resource_exhausted. Pure: src/node/worker uses it before it keeps
// a result to report.
import type { AttemptResult } from '../sched/commands.js'
import type { TaskErrorData } from '../sched/types.js'
import { AttemptResultSchema, TaskErrorTypeSchema } from './messages.js'
import { MAX_ERROR_DETAILS_BYTES, MAX_RESULT_BYTES, MAX_TEXT_LENGTH } from './limits.js'
import { approxBytes, formatPath } from './schema.js'

export function fitResult (r: AttemptResult): AttemptResult {
  if (AttemptResultSchema.check(r) === undefined) return r
  const out: AttemptResult = { taskId: r.taskId, attempt: r.attempt, deviceId: r.deviceId, status: r.status, startedAt: r.startedAt, finishedAt: r.finishedAt }
  if (r.resourceUsage !== undefined) out.resourceUsage = r.resourceUsage
  if (r.error !== undefined) out.error = fitError(r.error)
  if (r.result !== undefined) {
    const size = approxBytes(r.result, MAX_RESULT_BYTES + 1)
    if (size >= 0 && size <= MAX_RESULT_BYTES) out.result = r.result
    else {
      out.status = 'failed'
      out.error = { type: 'resource_exhausted', message: size < 0 ? 'the result is nested too deep to report' : `the result is larger than ${MAX_RESULT_BYTES} bytes, the cap on a task's result` }
    }
  }
  const bad = AttemptResultSchema.check(out)
  if (bad === undefined) return out
  // anything else a handler could get wrong: the attempt fails, saying what was wrong
  return {
    taskId: r.taskId, attempt: r.attempt, deviceId: r.deviceId, status: 'failed', startedAt: finiteTime(r.startedAt), finishedAt: finiteTime(r.finishedAt),
    error: { type: 'execution_error', message: clip(`the attempt's report could not be sent: ${formatPath(bad.path)} ${bad.message}`) }
  }
}

/** about how many bytes a result takes on the wire (its result and error): for batching results under the caps */
export function resultBytes (r: AttemptResult): number {
  return approxBytes(r.result ?? 0) + approxBytes(r.error ?? 0)
}

function fitError (e: TaskErrorData): TaskErrorData {
  const type = TaskErrorTypeSchema.check(e.type) === undefined ? e.type : 'execution_error'
  let message = typeof e.message === 'string' ? e.message : String(e.message)
  const out: TaskErrorData = { type, message: '' }
  if (e.details !== undefined) {
    const size = approxBytes(e.details, MAX_ERROR_DETAILS_BYTES + 1)
    if (size >= 0 && size <= MAX_ERROR_DETAILS_BYTES) out.details = e.details
    else message += ` (details left out: over ${MAX_ERROR_DETAILS_BYTES} bytes)`
  }
  out.message = clip(message)
  return out
}

function clip (s: string): string {
  return s.length <= MAX_TEXT_LENGTH ? s : s.slice(0, MAX_TEXT_LENGTH - 1) + '…'
}

function finiteTime (t: number): number {
  return Number.isFinite(t) && t >= 0 ? t : 0
}
