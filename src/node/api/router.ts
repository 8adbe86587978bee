// A tiny method + path router: enough for a dozen fixed routes, no framework needed.

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ClusterNode } from '../api-types.js'
import { InvalidRequestError, MethodNotAllowedError } from './errors.js'

export interface RouteContext {
  node: ClusterNode
  req: IncomingMessage
  res: ServerResponse
  params: Record<string, string>
  query: URLSearchParams
  /** who the request acts as (the token's principal), passed to the scheduler */
  principal?: string
}

export type RouteHandler = (ctx: RouteContext) => Promise<void>

interface Route { method: string, pattern: RegExp, keys: string[], handler: RouteHandler }

export class Router {
  private readonly routes: Route[] = []

  /** `path` segments starting with ':' are parameters, e.g. `/v1/tasks/:id`. */
  add (method: string, path: string, handler: RouteHandler): this {
    const keys: string[] = []
    const source = path.split('/').map(seg => {
      if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      keys.push(seg.slice(1))
      return '([^/]+)'
    }).join('/')
    this.routes.push({ method, pattern: new RegExp(`^${source}/?$`), keys, handler })
    return this
  }

  /** The handler and params for a request, undefined when no path matches; throws 405 on a wrong method. */
  match (method: string, pathname: string): { handler: RouteHandler, params: Record<string, string> } | undefined {
    let pathMatched = false
    for (const route of this.routes) {
      const m = route.pattern.exec(pathname)
      if (m === null) continue
      pathMatched = true
      if (route.method !== method) continue
      const params: Record<string, string> = {}
      route.keys.forEach((k, i) => {
        try {
          params[k] = decodeURIComponent(m[i + 1])
        } catch {
          throw new InvalidRequestError(k, `the path's ${k} is not valid percent-encoding`)
        }
      })
      return { handler: route.handler, params }
    }
    if (pathMatched) throw new MethodNotAllowedError(method, pathname)
    return undefined
  }
}
