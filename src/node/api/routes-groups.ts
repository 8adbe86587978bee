// /v1/batches and /v1/workflows: many tasks submitted atomically, then followed as one.

import type { Router, RouteContext } from './router.js'
import { readJsonObject, sendJson } from './http.js'
import { checkBatch, checkWorkflow, takeIdempotencyKey } from './validate.js'
import type { SubmitOptions } from '../api-types.js'

export function addGroupRoutes (router: Router): void {
  router
    .add('POST', '/v1/batches', submitBatch)
    .add('GET', '/v1/batches/:id', getBatch)
    .add('POST', '/v1/workflows', submitWorkflow)
    .add('GET', '/v1/workflows/:id', getWorkflow)
}

async function submitBatch (ctx: RouteContext): Promise<void> {
  await submitGroup(ctx, checkBatch, async (body, opts) => await ctx.node.scheduler.submitBatch(body, opts))
}

async function getBatch (ctx: RouteContext): Promise<void> {
  sendJson(ctx.res, 200, await ctx.node.scheduler.getBatchProgress(ctx.params.id))
}

async function submitWorkflow (ctx: RouteContext): Promise<void> {
  await submitGroup(ctx, checkWorkflow, async (body, opts) => await ctx.node.scheduler.submitWorkflow(body, opts))
}

async function getWorkflow (ctx: RouteContext): Promise<void> {
  sendJson(ctx.res, 200, await ctx.node.scheduler.getWorkflowStatus(ctx.params.id))
}

/** a batch or a workflow: checked whole before anything is submitted, then 201 with every task id */
async function submitGroup (ctx: RouteContext, check: (body: Record<string, unknown>) => void,
  submit: (body: Record<string, unknown>, opts: SubmitOptions) => Promise<{ id: string, taskIds: string[] }>): Promise<void> {
  const body = await readJsonObject(ctx.req)
  const idempotencyKey = takeIdempotencyKey(body, ctx.req.headers['idempotency-key'])
  check(body)
  const out = await submit(body, { idempotencyKey, principal: ctx.principal })
  sendJson(ctx.res, 201, { id: out.id, taskIds: out.taskIds })
}
