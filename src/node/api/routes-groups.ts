// /v1/batches and /v1/workflows: many tasks submitted atomically, then followed as one.

import type { Router, RouteContext } from './router.js'
import { readJsonObject, sendJson } from './http.js'
import { checkBatch, checkWorkflow, takeIdempotencyKey } from './validate.js'

export function addGroupRoutes (router: Router): void {
  router
    .add('POST', '/v1/batches', submitBatch)
    .add('GET', '/v1/batches/:id', getBatch)
    .add('POST', '/v1/workflows', submitWorkflow)
    .add('GET', '/v1/workflows/:id', getWorkflow)
}

async function submitBatch (ctx: RouteContext): Promise<void> {
  const body = await readJsonObject(ctx.req)
  const idempotencyKey = takeIdempotencyKey(body, ctx.req.headers['idempotency-key'])
  checkBatch(body)
  const out = await ctx.node.scheduler.submitBatch(body, { idempotencyKey, principal: ctx.principal })
  sendJson(ctx.res, 201, { id: out.id, taskIds: out.taskIds })
}

async function getBatch (ctx: RouteContext): Promise<void> {
  sendJson(ctx.res, 200, await ctx.node.scheduler.getBatchProgress(ctx.params.id))
}

async function submitWorkflow (ctx: RouteContext): Promise<void> {
  const body = await readJsonObject(ctx.req)
  const idempotencyKey = takeIdempotencyKey(body, ctx.req.headers['idempotency-key'])
  checkWorkflow(body)
  const out = await ctx.node.scheduler.submitWorkflow(body, { idempotencyKey, principal: ctx.principal })
  sendJson(ctx.res, 201, { id: out.id, taskIds: out.taskIds })
}

async function getWorkflow (ctx: RouteContext): Promise<void> {
  sendJson(ctx.res, 200, await ctx.node.scheduler.getWorkflowStatus(ctx.params.id))
}
