// The cluster's settings (issue 14): GET /v1/settings answers from this node's replicated state;
// PATCH /v1/settings { "retentionMs"?, "maxQueueSize"?, "maxRetainedTasks"?, "rateLimits"?, "reliability"?,
// "preemption"? }
// changes them through the leader (admin only). A field given replaces the current value, null
// restores its default, a field not given stays. Refused input changes nothing (400, the field named).

import type { Router, RouteContext } from './router.js'
import { readJsonObject, sendJson } from './http.js'
import { InvalidRequestError } from './errors.js'
import { ClusterSettingsPatchSchema } from '../../protocol/messages.js'
import { formatPath } from '../../protocol/schema.js'
import type { ClusterSettingsPatch } from '../../sched/commands.js'

export function addSettingsRoutes (router: Router): void {
  router
    .add('GET', '/v1/settings', async ctx => { sendJson(ctx.res, 200, ctx.node.scheduler.getSettings()) })
    .add('PATCH', '/v1/settings', patchSettings)
}

async function patchSettings (ctx: RouteContext): Promise<void> {
  const body = await readJsonObject(ctx.req)
  if (Object.keys(body).length === 0) throw new InvalidRequestError('settings', 'nothing to change: give retentionMs, maxQueueSize, maxRetainedTasks, rateLimits, reliability or preemption')
  const bad = ClusterSettingsPatchSchema.check(body)
  if (bad !== undefined) {
    const field = formatPath(bad.path)
    throw new InvalidRequestError(field, `${field === '' ? 'settings' : field}: ${bad.message}`)
  }
  const opts = ctx.principal !== undefined ? { principal: ctx.principal } : {}
  sendJson(ctx.res, 200, await ctx.node.scheduler.updateSettings(body as ClusterSettingsPatch, opts))
}
