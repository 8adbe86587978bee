// /v1/tasks: submit (one per request, or many on one stream: task-stream.ts), look up, list, cancel,
// and long-poll a task's outcome.

import type { Router, RouteContext } from './router.js'
import type { TaskRecord } from '../../sched/commands.js'
import type { TaskStatus } from '../../sched/types.js'
import { NotFoundError } from './errors.js'
import { readJsonObject, sendJson, intParam, enumParam } from './http.js'
import { checkTaskSpec, takeIdempotencyKey } from './validate.js'
import { TRACE_ON, traceMark, traceNow } from '../trace.js'
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, DEFAULT_WAIT_MS, MAX_WAIT_MS } from './limits.js'
import { streamSubmissions } from './task-stream.js'

export const TASK_STATUSES: readonly TaskStatus[] = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timeout']
const TERMINAL = new Set<string>(['completed', 'failed', 'cancelled', 'timeout'])

export function addTaskRoutes (router: Router): void {
  router
    .add('POST', '/v1/tasks', submitTask)
    .add('POST', '/v1/tasks/stream', streamSubmissions)
    .add('GET', '/v1/tasks', listTasks)
    .add('GET', '/v1/tasks/:id', getTask)
    .add('DELETE', '/v1/tasks/:id', cancelTask)
    .add('GET', '/v1/tasks/:id/wait', waitTask)
}

async function submitTask (ctx: RouteContext): Promise<void> {
  const t0 = TRACE_ON ? traceNow() : 0
  const body = await readJsonObject(ctx.req)
  const idempotencyKey = takeIdempotencyKey(body, ctx.req.headers['idempotency-key'])
  checkTaskSpec(body)
  const id = await ctx.node.scheduler.submitTask(body, { idempotencyKey, principal: ctx.principal })
  if (TRACE_ON) { traceMark(id, 'http.received', t0); traceMark(id, 'http.answered') }
  sendJson(ctx.res, 201, { id })
}

async function listTasks (ctx: RouteContext): Promise<void> {
  const status = enumParam(ctx.query, 'status', TASK_STATUSES)
  const deviceId = ctx.query.get('device') ?? ctx.query.get('deviceId') ?? undefined
  const limit = intParam(ctx.query, 'limit', 1, MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT)
  // newest first, as people and the dashboard want them
  const list = await ctx.node.scheduler.listTasks({ status, deviceId: deviceId === '' ? undefined : deviceId, limit, order: 'newest' })
  sendJson(ctx.res, 200, list)
}

async function getTask (ctx: RouteContext): Promise<void> {
  sendJson(ctx.res, 200, await findTask(ctx, ctx.params.id))
}

async function cancelTask (ctx: RouteContext): Promise<void> {
  await findTask(ctx, ctx.params.id)
  const record = await ctx.node.scheduler.cancelTask(ctx.params.id, { principal: ctx.principal })
  sendJson(ctx.res, 200, record)
}

/**
 * Long-poll: answers with the final record (following failover clones) as soon as the task ends, or
 * with its current record after `timeoutMs`; clients loop until the status is terminal.
 */
async function waitTask (ctx: RouteContext): Promise<void> {
  const id = ctx.params.id
  const timeoutMs = intParam(ctx.query, 'timeoutMs', 0, MAX_WAIT_MS, DEFAULT_WAIT_MS)
  // where the task stands here, without the leader's live fields: a finished task answers at once
  // with them unneeded, an unfinished one is answered by waitForResult (or findTask on a timeout).
  // Measured (issue 12): on a follower every wait for a running task cost a round trip to the leader.
  // Unknown here yet (submitted through another node, not applied here): waitForResult waits for
  // it to be applied (up to 5 s) before it answers 404, as a wait on the submitting node would not need to.
  const current = await ctx.node.scheduler.getTaskStatus(id, { liveFields: false })
  if (current !== undefined && TERMINAL.has(current.status) && current.replacedBy === undefined) {
    sendJson(ctx.res, 200, current)
    return
  }
  let record: TaskRecord
  try {
    record = await ctx.node.scheduler.waitForResult(id, { timeoutMs })
    traceMark(id, 'wait.answered')
  } catch (err) {
    // A timeout is not an error for a long-poll: report where the task stands.
    const type = (err as { type?: unknown }).type
    if (type !== 'timeout' && type !== 'timeout_error' && !/timed? ?out/i.test(String((err as Error).message))) throw err
    record = await findTask(ctx, id)
  }
  sendJson(ctx.res, 200, record)
}

async function findTask (ctx: RouteContext, id: string, liveFields = true): Promise<TaskRecord> {
  const record = await ctx.node.scheduler.getTaskStatus(id, { liveFields })
  if (record === undefined) throw new NotFoundError(`task ${id}`)
  return record
}
