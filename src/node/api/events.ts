// GET /v1/events: the node's lifecycle events as server-sent events, one SSE event per cluster event,
// named by its kind (submit, schedule, start, progress, complete, error, and retry/failover/stale).
// The hub subscribes to the node only while someone listens, so an idle API costs the hot path nothing.
// `?kinds=complete,error,failover` keeps only those kinds: what a program that waits for the
// outcomes of many tasks on one stream needs (src/node/api/result-stream.ts). `?taskId=A` follows
// A's failover clone from the 'failover' event on (and that clone's, and so on), and a drain
// hand-off's clone from its 'submit' (it runs beside A until the release). The frames of one
// turn go to each client in one write: a node applying a group commit of 64 results wrote 64 times.

import type { ServerResponse } from 'node:http'
import type { ClusterNode } from '../api-types.js'
import type { RouteContext } from './router.js'
import { ApiError, InvalidRequestError } from './errors.js'
import { MAX_SSE_BACKLOG_BYTES, MAX_SSE_CLIENTS, MAX_SSE_FOLLOWED_IDS, SSE_HEARTBEAT_MS } from './limits.js'

type NodeEvent = Parameters<Parameters<ClusterNode['onEvent']>[0]>[0]

/** every kind of event the stream sends (`?kinds=` names some of them) */
export const EVENT_KINDS: ReadonlySet<NodeEvent['kind']> = new Set<NodeEvent['kind']>(['submit', 'schedule', 'start', 'progress', 'complete', 'error', 'stale', 'retry', 'failover'])

interface Client {
  res: ServerResponse
  /** `?taskId=` (undefined: every task) */
  root?: string
  /** the clones of root (failover, drain hand-off) and theirs seen since, oldest first */
  follow: Set<string>
  kinds?: ReadonlySet<string>
  /** frames of this turn not written yet */
  pending: string
}

export class EventHub {
  private readonly clients = new Set<Client>()
  private unsubscribe?: () => void
  private heartbeat?: NodeJS.Timeout
  private toFlush: Client[] = []
  private flushQueued = false

  constructor (private readonly node: ClusterNode) {}

  /** Route handler: keeps the response open until the client leaves or the server closes. */
  readonly handle = async (ctx: RouteContext): Promise<void> => {
    if (this.clients.size >= MAX_SSE_CLIENTS) throw new ApiError(503, 'unavailable', `too many event streams (max ${MAX_SSE_CLIENTS})`)
    const taskId = ctx.query.get('taskId') ?? undefined
    const kinds = parseKinds(ctx.query.get('kinds'))
    ctx.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no'
    })
    ctx.res.write(': connected\nretry: 2000\n\n')
    const client: Client = { res: ctx.res, root: taskId === undefined || taskId === '' ? undefined : taskId, follow: new Set(), kinds, pending: '' }
    this.add(client)
    ctx.res.on('close', () => this.remove(client))
  }

  closeAll (): void {
    for (const c of this.clients) c.res.end()
    this.clients.clear()
    this.stop()
  }

  private add (client: Client): void {
    this.clients.add(client)
    if (this.unsubscribe !== undefined) return
    this.unsubscribe = this.node.onEvent(ev => this.broadcast(ev))
    this.heartbeat = setInterval(() => { for (const c of this.clients) c.res.write(': ping\n\n') }, SSE_HEARTBEAT_MS)
    this.heartbeat.unref()
  }

  private remove (client: Client): void {
    this.clients.delete(client)
    if (this.clients.size === 0) this.stop()
  }

  private stop (): void {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat)
    this.heartbeat = undefined
  }

  private broadcast (ev: NodeEvent): void {
    let frame: string | undefined
    for (const c of this.clients) {
      if (c.root !== undefined) {
        const followed = (id: string): boolean => id === c.root || c.follow.has(id)
        // a drain hand-off's clone runs beside the task until its 'failover' (the release), and
        // may be cancelled instead: its events are the task's from its submit on
        if (ev.kind === 'submit' && ev.replaces !== undefined && followed(ev.replaces)) follow(c.follow, ev.taskId)
        if (!followed(ev.taskId)) continue
        if (ev.kind === 'failover') {
          // the clone's events are the task's from now on (whatever kinds this client takes)
          follow(c.follow, ev.cloneId)
        }
      }
      if (c.kinds !== undefined && !c.kinds.has(ev.kind)) continue
      // A client that cannot keep up is dropped rather than buffered without bound.
      if (c.res.writableLength + c.pending.length > MAX_SSE_BACKLOG_BYTES) {
        c.res.destroy()
        this.clients.delete(c)
        continue
      }
      frame ??= toFrame(ev)
      if (c.pending === '') this.toFlush.push(c)
      c.pending += frame
    }
    if (this.toFlush.length > 0 && !this.flushQueued) {
      this.flushQueued = true
      setImmediate(() => { this.flush() })
    }
  }

  /** the turn's frames, one write per client */
  private flush (): void {
    this.flushQueued = false
    const list = this.toFlush
    this.toFlush = []
    for (const c of list) {
      const out = c.pending
      c.pending = ''
      if (this.clients.has(c) && !c.res.destroyed) c.res.write(out)
    }
  }
}

/**
 * a clone's id joins the ids a client follows; a long chain keeps only its newest clones (one
 * failed over, or a hand-off clone aborted, is done). The task asked for is never dropped: it may
 * still run while a drain hands it off again and again.
 */
function follow (ids: Set<string>, id: string): void {
  ids.add(id)
  if (ids.size > MAX_SSE_FOLLOWED_IDS) ids.delete(ids.values().next().value!)
}

/** `?kinds=a,b`: the kinds to send (undefined: all); an unknown kind is a 400, not an empty stream */
function parseKinds (raw: string | null): ReadonlySet<string> | undefined {
  if (raw === null || raw === '') return undefined
  const kinds = new Set(raw.split(',').map(k => k.trim()).filter(k => k !== ''))
  for (const k of kinds) {
    if (!EVENT_KINDS.has(k as NodeEvent['kind'])) throw new InvalidRequestError('kinds', `unknown event kind "${k}" (known: ${[...EVENT_KINDS].join(', ')})`)
  }
  return kinds
}

function toFrame (ev: NodeEvent): string {
  const { kind, ...data } = ev
  return `event: ${kind}\ndata: ${JSON.stringify(data)}\n\n`
}
