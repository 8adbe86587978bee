// 'finished' and 'expire': worker results, keyed by (taskId, attempt), and the leader's timeout for
// an attempt that never reported (applied exactly like a timeout result). The current attempt's
// result is applied once: completed, or failed/timeout/cancelled with a retry (back to pending
// after a deterministic backoff) while the error class is retryable and retries remain. A result of
// a superseded attempt, or one that arrives before its assignment, is recorded as stale.

import type { AttemptResult, ClusterEvent, Command, TaskAttempt, TaskRecord } from '../commands.js'
import type { TaskErrorData } from '../types.js'
import { hashSeed, mulberry32 } from '../rng.js'
import { canTransition } from '../status.js'
import { cancelDependants } from './cancel.js'
import { backToPending, changeable, current, markRunning, removeFromDevice, setStatus } from './records.js'
import { errorReply, type Reply, type State } from './state.js'
import { onStepCompleted } from './workflows.js'
import { onAttemptCompleted, onAttemptFailed } from './reliability.js'

const RESULT_STATUSES: ReadonlySet<unknown> = new Set(['completed', 'failed', 'timeout', 'cancelled'])

export function applyFinished (s: State, cmd: Extract<Command, { type: 'finished' }>, events: ClusterEvent[]): Reply | undefined {
  if (!Array.isArray(cmd.results)) return errorReply('invalid_payload', 'finished.results must be an array', 'results')
  for (const r of cmd.results) applyResult(s, r, cmd.at, events)
  return undefined
}

/** Leader-side timeout for an attempt whose worker vanished or never reported. */
export function applyExpire (s: State, cmd: Extract<Command, { type: 'expire' }>, events: ClusterEvent[]): void {
  const cur = current(s, cmd.taskId, cmd.attempt)
  if (cur === undefined || !canTransition(cur.rec.status, 'timeout')) return
  const msg = `attempt ${cmd.attempt} on ${cur.att.deviceId} did not report within its timeout`
  failAttempt(s, cur.rec, cur.att, 'timeout', { type: 'timeout_error', message: msg }, cmd.at, events)
}

function applyResult (s: State, r: AttemptResult, at: number, events: ClusterEvent[]): void {
  const found = attemptToApply(s, r, at, events)
  if (found === undefined) return
  const { rec, att } = found
  att.reported = true
  if (rec.status === 'queued') {
    // a fast attempt finished before its worker reported 'started' (it only does after 100 ms):
    // it did run, so hooks still see start before complete/error, once per attempt
    const startedAt = typeof r.startedAt === 'number' ? r.startedAt : at
    markRunning(s, rec, att, startedAt)
    events.push({ kind: 'start', taskId: rec.id, attempt: att.attempt, deviceId: att.deviceId, at: startedAt })
  }
  if (typeof r.startedAt === 'number') att.startedAt = r.startedAt
  att.finishedAt = typeof r.finishedAt === 'number' ? r.finishedAt : at
  if (r.resourceUsage !== undefined) rec.resourceUsage = r.resourceUsage
  if (r.status === 'completed') {
    complete(s, rec, att, r.result, at, events)
    return
  }
  const type = r.status === 'timeout' ? 'timeout_error' : r.status === 'cancelled' ? 'cancelled' : 'execution_error'
  const error: TaskErrorData = r.error ?? { type, message: `attempt ${r.attempt} ended ${r.status}` }
  failAttempt(s, rec, att, r.status, error, at, events)
}

/**
 * The attempt a result applies to, when it is the current, unreported attempt in flight on the
 * device that reports it. Otherwise undefined: ignored (malformed, duplicate) or recorded as stale.
 */
function attemptToApply (s: State, r: AttemptResult, at: number, events: ClusterEvent[]): { rec: TaskRecord, att: TaskAttempt } | undefined {
  if (r == null || typeof r !== 'object' || !RESULT_STATUSES.has(r.status)) return undefined
  const rec = s.tasks.get(r.taskId)
  if (rec === undefined || !Number.isInteger(r.attempt) || r.attempt < 1) return undefined
  if (r.attempt > rec.attempts.length + 1) return undefined // no assignment could have been dispatched yet: malformed
  if (r.attempt > rec.attempts.length) {
    // Early: the result of an assignment dispatched while it committed reached the log first (or
    // its assignment was lost with a deposed leader). Not applicable yet; the worker answers the
    // assignment, once it commits and is dispatched again, with this same outcome (worker.ts).
    stale(s, rec, r, at, events)
    return undefined
  }
  const att = rec.attempts[r.attempt - 1]
  if (att.reported === true) return undefined // duplicate (taskId, attempt): the outcome is recorded once
  // in flight: from queued (via running) and from running, every outcome's move is in status.ts's table
  const inFlight = rec.status === 'queued' || rec.status === 'running'
  if (!inFlight || r.attempt !== rec.attempts.length || r.deviceId !== att.deviceId) {
    // a superseded attempt (retried, expired, failed over, cancelled): recorded, never applied
    const changed = stale(s, rec, r, at, events)
    if (r.deviceId === att.deviceId) changed.attempts[r.attempt - 1]!.reported = true
    return undefined
  }
  return { rec, att }
}

/** counts a result that does not apply on the task's record (a copy if the task has ended), which it returns */
function stale (s: State, rec: TaskRecord, r: AttemptResult, at: number, events: ClusterEvent[]): TaskRecord {
  rec = changeable(s, rec)
  rec.staleResults = (rec.staleResults ?? 0) + 1
  events.push({ kind: 'stale', taskId: rec.id, attempt: r.attempt, deviceId: r.deviceId, at })
  return rec
}

function complete (s: State, rec: TaskRecord, att: TaskAttempt, result: unknown, at: number, events: ClusterEvent[]): void {
  att.status = 'completed'
  onAttemptCompleted(s, rec, att, at)
  removeFromDevice(s, rec)
  setStatus(s, rec, 'completed')
  rec.result = result
  if (rec.error !== undefined) delete rec.error // an earlier attempt's error stays in attempts[]
  rec.progress = 100
  rec.finishedAt = att.finishedAt ?? at
  events.push({ kind: 'complete', taskId: rec.id, attempt: att.attempt, deviceId: att.deviceId, at, result })
  onStepCompleted(s, rec, at)
}

/**
 * An attempt ended badly: retry (back to pending after a deterministic backoff) when the error
 * class is retryable and retries remain, else the task ends with that status.
 */
function failAttempt (s: State, rec: TaskRecord, att: TaskAttempt, status: 'failed' | 'timeout' | 'cancelled', error: TaskErrorData, at: number, events: ClusterEvent[]): void {
  att.status = status
  att.error = error
  if (att.finishedAt === undefined) att.finishedAt = at
  const retries = rec.task.retryCount
  const maxRetries = rec.task.requirements.maxRetries
  const retry = status !== 'cancelled' && s.retry.shouldRetry(error.type, retries, maxRetries)
  // the device's reliability; a task failed on too many devices is poisoned: it ends here instead of retrying
  const poisoned = onAttemptFailed(s, rec, att, at, retry)
  if (poisoned !== undefined) { status = 'failed'; error = poisoned }
  if (poisoned === undefined && retry) {
    const rng = mulberry32(hashSeed(rec.id + ':' + att.attempt))
    const delaySeconds = s.retry.nextDelay(retries, rng)
    const notBefore = at + Math.max(0, Math.round(delaySeconds * 1000))
    rec.task.retryCount = retries + 1
    rec.error = error
    backToPending(s, rec, at, notBefore)
    events.push({ kind: 'error', taskId: rec.id, attempt: att.attempt, deviceId: att.deviceId, at, error, final: false, status })
    events.push({ kind: 'retry', taskId: rec.id, attempt: att.attempt, at, notBefore })
    return
  }
  removeFromDevice(s, rec)
  setStatus(s, rec, status)
  rec.error = error
  rec.finishedAt = at
  events.push({ kind: 'error', taskId: rec.id, attempt: att.attempt, deviceId: att.deviceId, at, error, final: true, status })
  cancelDependants(s, rec, status === 'cancelled' ? 'cancelled' : 'failed', at, events)
}
