// Cluster-wide views: devices, this node and Raft, the queue, and task metrics.

import type { Router, RouteContext } from './router.js'
import { sendJson } from './http.js'
import { checkPeriod } from './validate.js'
import { TRACE_ON, traceTake } from '../trace.js'

export function addClusterRoutes (router: Router): void {
  router
    .add('GET', '/v1/nodes', async ctx => { sendJson(ctx.res, 200, await ctx.node.nodes()) })
    .add('GET', '/v1/queue', async ctx => { sendJson(ctx.res, 200, await ctx.node.scheduler.getQueueStatistics()) })
    .add('GET', '/v1/metrics', getMetrics)
    .add('GET', '/v1/status', getStatus)
    // hop timestamps for the bench (RC_TRACE=1 only), read once: { enabled, marks: { taskId: [[hop, ms]] } }
    .add('GET', '/v1/debug/trace', async ctx => { sendJson(ctx.res, 200, { enabled: TRACE_ON, marks: TRACE_ON ? traceTake() : {} }) })
}

async function getMetrics (ctx: RouteContext): Promise<void> {
  const period = checkPeriod(ctx.query.get('period'))
  sendJson(ctx.res, 200, await ctx.node.scheduler.getTaskMetrics(period === undefined ? {} : { period }))
}

/** This node: who it is, where it listens, and how Raft looks from here. */
async function getStatus (ctx: RouteContext): Promise<void> {
  const { node } = ctx
  sendJson(ctx.res, 200, {
    id: node.id,
    name: node.name,
    apiUrl: node.apiUrl(),
    multiaddrs: node.multiaddrs(),
    raft: node.raftStatus(),
    directLinks: node.directLinks?.()
  })
}
