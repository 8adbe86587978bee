// This device's drain (issue 13): POST /v1/nodes/self/drain { "deadlineMs"?: n, "reason"?: s } and
// POST /v1/nodes/self/undrain. Token-protected like every /v1 route.

import type { Router, RouteContext } from './router.js'
import { readJsonObject, sendJson } from './http.js'
import { InvalidRequestError } from './errors.js'

/** a drain deadline above a day is a typo */
const MAX_DRAIN_DEADLINE_MS = 86_400_000

export function addDeviceRoutes (router: Router): void {
  router
    .add('POST', '/v1/nodes/self/drain', drain)
    .add('POST', '/v1/nodes/self/undrain', async ctx => { sendJson(ctx.res, 200, await ctx.node.undrain()) })
}

async function drain (ctx: RouteContext): Promise<void> {
  const body = await readJsonObject(ctx.req)
  const d = body.deadlineMs ?? body.deadline_ms
  if (d !== undefined && (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > MAX_DRAIN_DEADLINE_MS)) {
    throw new InvalidRequestError('deadlineMs', `deadlineMs must be an integer 0..${MAX_DRAIN_DEADLINE_MS}`)
  }
  const reason = body.reason
  if (reason !== undefined && (typeof reason !== 'string' || reason === '' || reason.length > 200)) throw new InvalidRequestError('reason', 'reason must be a string of 1..200 characters')
  sendJson(ctx.res, 200, await ctx.node.drain({ ...(d !== undefined ? { deadlineMs: d as number } : {}), ...(reason !== undefined ? { reason: reason as string } : {}) }))
}
