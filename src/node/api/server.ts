// The node's HTTP server (node:http, no framework): JSON API under /v1, Prometheus text at /metrics and
// the dashboard at /. The node starts it with the token it wrote to <dataDir>/api-token.
//
//   const api = await startApiServer(node, { host: '127.0.0.1', port: 0, token })
//   console.log(api.url)   // http://127.0.0.1:40123
//   await api.close()

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ClusterNode } from '../api-types.js'
import { Router } from './router.js'
import { TokenChecker, isLoopbackHost, hostHeaderIsLoopback } from './auth.js'
import { ApiError, NotFoundError, UnauthorizedError } from './errors.js'
import { sendError } from './http.js'
import { addTaskRoutes } from './routes-tasks.js'
import { addGroupRoutes } from './routes-groups.js'
import { addClusterRoutes } from './routes-cluster.js'
import { addDeviceRoutes } from './routes-devices.js'
import { addSettingsRoutes } from './routes-settings.js'
import { EventHub } from './events.js'
import { ClusterMetrics } from './prometheus.js'
import { dashboardAsset, dashboardPage } from '../dashboard/assets.js'

/** console fits; so does the node's logger */
export interface ApiLogger { info (msg: string): void, warn (msg: string): void, error (msg: string): void }

export interface ApiServerOptions {
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port */
  port: number
  /** the bearer token every /v1 request must carry (the node's admin token) */
  token: string
  log?: ApiLogger
  /** the principal requests made with `token` act as; undefined lets the node use its own identity */
  principal?: string
}

export interface ApiServer { url: string, close (): Promise<void> }

/** What every request needs: built once per server. */
interface ServerContext {
  node: ClusterNode
  opts: ApiServerOptions
  tokens: TokenChecker
  router: Router
  metrics: ClusterMetrics
  /** dashboard and /metrics open without the token (bound to loopback) */
  open: boolean
}

export async function startApiServer (node: ClusterNode, opts: ApiServerOptions): Promise<ApiServer> {
  const host = opts.host ?? '127.0.0.1'
  const hub = new EventHub(node)
  const router = new Router().add('GET', '/v1/events', hub.handle)
  addTaskRoutes(router)
  addGroupRoutes(router)
  addClusterRoutes(router)
  addDeviceRoutes(router)
  addSettingsRoutes(router)
  // The contract: dashboard and /metrics are open when bound to loopback, and need the token otherwise.
  const ctx: ServerContext = { node, opts, tokens: new TokenChecker(opts.token), router, metrics: new ClusterMetrics(node), open: isLoopbackHost(host) }
  const server = createServer((req, res) => {
    serve(ctx, req, res).catch(err => {
      if (!(err instanceof ApiError) && (err as { type?: unknown }).type === undefined) opts.log?.warn(`api: ${req.method ?? ''} ${req.url ?? ''} failed: ${(err as Error).stack ?? String(err)}`)
      sendError(res, err)
    })
  })
  server.requestTimeout = 0     // long-polls and SSE outlive the default
  server.headersTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, host, () => { server.off('error', reject); resolve() })
  })
  const port = (server.address() as AddressInfo).port
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  const url = `http://${urlHost}:${port}`
  opts.log?.info(`api: listening on ${url}${ctx.open ? '' : ` (bound to ${host}: dashboard and /metrics need the token)`}`)
  return {
    url,
    close: async () => {
      hub.closeAll()
      ctx.metrics.close()
      await new Promise<void>(resolve => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  }
}

async function serve (ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { node, opts, tokens, router, metrics, open } = ctx
  const url = new URL(req.url ?? '/', 'http://localhost')
  const method = req.method ?? 'GET'
  if (url.pathname.startsWith('/v1/')) {
    if (!tokens.matches(req)) throw new UnauthorizedError()
    const route = router.match(method, url.pathname)
    if (route === undefined) throw new NotFoundError(`route ${method} ${url.pathname}`)
    await route.handler({ node, req, res, params: route.params, query: url.searchParams, principal: opts.principal })
    return
  }
  if (method !== 'GET' && method !== 'HEAD') throw new NotFoundError(`route ${method} ${url.pathname}`)
  if (url.pathname === '/metrics') {
    if (!open && !tokens.matches(req)) throw new UnauthorizedError()
    const text = await metrics.render()
    res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' })
    res.end(text)
    return
  }
  if (url.pathname === '/' || url.pathname === '/index.html') {
    servePage(ctx, req, res, url.searchParams)
    return
  }
  const asset = dashboardAsset(url.pathname)
  if (asset === undefined) throw new NotFoundError(`page ${url.pathname}`)
  res.writeHead(200, { 'content-type': asset.contentType, 'cache-control': 'no-cache' })
  res.end(asset.body)
}

/** The page carries the token its scripts use: on loopback for free, elsewhere only for who shows it. */
function servePage (ctx: ServerContext, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
  let token = ''
  if (ctx.tokens.matches(req, query)) token = query.get('token') ?? ctx.opts.token
  else if (!ctx.open) throw new UnauthorizedError()
  else if (hostHeaderIsLoopback(req)) token = ctx.opts.token
  // else: loopback bind reached under a foreign Host name (DNS rebinding?): page without token.
  const html = dashboardPage(token)
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer'
  })
  res.end(html)
}
