// A small client for the node's HTTP API. The CLI, scripts, the bench and tests use it.
//
//   const client = await ApiClient.fromDataDir('~/.retire-cluster')
//   const id = await client.submitTask({ task_type: 'echo', payload: { message: 'hi' } })
//   const record = await client.waitTask(id)
//
// Requests go through node:http with a keep-alive agent, not the global fetch: one task per request
// is the path users take, and fetch (undici) cost the submitting process ~320 µs of CPU per request
// here, ~2/3 of what a node spends on the task (bench: clientCpuMicrosPerTask). Only the event
// stream, one long-lived request, still uses fetch.

import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { ClusterSettings, ClusterSettingsPatch, TaskRecord } from '../../sched/commands.js'
import type { TaskStatus } from '../../sched/types.js'
import { isFinal, ResultStream, type ResultStreamOptions } from './result-stream.js'
import { SubmitStream } from './submit-stream.js'
import { cutRecords, parseSseFrame } from './records.js'
import type { DrainStatus, NodeInfo, QueueStatistics, BatchProgress, WorkflowStatus, TaskMetrics, RaftStatus } from '../api-types.js'

export interface ApiClientOptions {
  /** e.g. http://127.0.0.1:7070 */
  url: string
  token: string
  /** per request, except long-polls and event streams @default 30000 */
  timeoutMs?: number
}

export interface NodeStatusView { id: string, name: string, apiUrl?: string, multiaddrs: string[], raft: RaftStatus }

/** An API answer other than 2xx, or a node that cannot be reached (status 0). */
export class ApiClientError extends Error {
  readonly status: number
  readonly type: string
  readonly field?: string
  constructor (status: number, type: string, message: string, field?: string) {
    super(message)
    this.name = 'ApiClientError'
    this.status = status
    this.type = type
    if (field !== undefined) this.field = field
  }
}

export interface ClientEvent { event: string, data: Record<string, unknown> }

/** An answer as it came: any status, the body parsed from JSON (undefined when empty) */
export interface RawAnswer<T = any> { status: number, body: T }

/** methods a client may send again when a kept-alive socket turned out closed (never POST) */
const RETRYABLE = new Set(['GET', 'HEAD', 'DELETE', 'PUT', 'PATCH'])

export class ApiClient {
  readonly url: string
  private readonly token: string
  /** per request, except long-polls and event streams */
  readonly timeoutMs: number
  private readonly origin: URL
  private readonly agent: HttpAgent
  private readonly send: typeof httpRequest

  constructor (opts: ApiClientOptions) {
    this.url = opts.url.replace(/\/+$/, '')
    this.token = opts.token
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.origin = new URL(this.url)
    if (this.origin.protocol !== 'http:' && this.origin.protocol !== 'https:') throw new Error(`the API url must be http:// or https://, not ${this.url}`)
    const secure = this.origin.protocol === 'https:'
    // Free sockets are unref'd by the agent: a CLI process exits while they wait for reuse. The
    // agent closes a free socket 1 s before the server's keep-alive hint says the server will.
    this.agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
    this.send = secure ? httpsRequest : httpRequest
  }

  /** Closes the sockets kept for reuse (a process that exits need not call it). */
  close (): void { this.agent.destroy() }

  /** Reads `<dataDir>/node.json` (apiUrl) and `<dataDir>/api-token`, as the node wrote them; a leading `~/` is the home directory. */
  static async fromDataDir (dataDir: string): Promise<ApiClient> {
    if (dataDir === '~' || dataDir.startsWith('~/')) dataDir = join(homedir(), dataDir.slice(1))
    const info = JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8')) as { apiUrl?: unknown }
    if (typeof info.apiUrl !== 'string' || info.apiUrl === '') throw new Error(`${join(dataDir, 'node.json')} has no apiUrl (was the node started with its API off?)`)
    const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim()
    return new ApiClient({ url: info.apiUrl, token })
  }

  submitTask (spec: Record<string, unknown>, opts: { idempotencyKey?: string } = {}): Promise<string> {
    const body = opts.idempotencyKey === undefined ? spec : { ...spec, idempotency_key: opts.idempotencyKey }
    return this.request<{ id: string }>('POST', '/v1/tasks', body).then(r => r.id)
  }

  getTask (id: string): Promise<TaskRecord> { return this.request('GET', `/v1/tasks/${enc(id)}`) }

  listTasks (filter: { status?: TaskStatus | string, device?: string, limit?: number } = {}): Promise<TaskRecord[]> {
    const q = new URLSearchParams()
    if (filter.status !== undefined) q.set('status', filter.status)
    if (filter.device !== undefined) q.set('device', filter.device)
    if (filter.limit !== undefined) q.set('limit', String(filter.limit))
    return this.request('GET', `/v1/tasks${q.size > 0 ? `?${q.toString()}` : ''}`)
  }

  cancelTask (id: string): Promise<TaskRecord> { return this.request('DELETE', `/v1/tasks/${enc(id)}`) }

  /** One long-poll: the final record, or the current one after `timeoutMs`. */
  waitTaskOnce (id: string, timeoutMs = 25_000): Promise<TaskRecord> {
    return this.request('GET', `/v1/tasks/${enc(id)}/wait?timeoutMs=${timeoutMs}`, undefined, timeoutMs + 10_000)
  }

  /** Long-polls until the task (or the clone it failed over to) is final, or `deadlineMs` passes. */
  async waitTask (id: string, deadlineMs = 10 * 60_000): Promise<TaskRecord> {
    const end = Date.now() + deadlineMs
    for (;;) {
      const left = end - Date.now()
      const record = await this.waitTaskOnce(id, Math.max(0, Math.min(25_000, left)))
      if (isFinal(record)) return record
      if (Date.now() >= end) return record
    }
  }

  /**
   * One event stream for the outcomes of many tasks (see result-stream.ts): open it before
   * submitting, then `wait(id)` per task — one request per task instead of a submit and a long-poll.
   */
  openResults (opts: ResultStreamOptions = {}): Promise<ResultStream> { return ResultStream.open(this, opts) }

  /**
   * Many submissions on one connection (see submit-stream.ts): `submit(spec)` per task, each with
   * its own answer, without an HTTP request per task.
   */
  openSubmissions (opts: { timeoutMs?: number } = {}): Promise<SubmitStream> { return SubmitStream.open(this, opts) }

  submitBatch (batch: { name?: string, description?: string, tasks: unknown[] }): Promise<{ id: string, taskIds: string[] }> {
    return this.request('POST', '/v1/batches', batch)
  }

  getBatch (id: string): Promise<BatchProgress> { return this.request('GET', `/v1/batches/${enc(id)}`) }

  submitWorkflow (workflow: Record<string, unknown>): Promise<{ id: string, taskIds: string[] }> {
    return this.request('POST', '/v1/workflows', workflow)
  }

  getWorkflow (id: string): Promise<WorkflowStatus> { return this.request('GET', `/v1/workflows/${enc(id)}`) }
  nodes (): Promise<NodeInfo[]> { return this.request('GET', '/v1/nodes') }

  /** this node stops taking work and hands its tasks off within deadlineMs (server default 120000) */
  drain (opts: { deadlineMs?: number, reason?: string } = {}): Promise<DrainStatus> { return this.request('POST', '/v1/nodes/self/drain', opts) }

  undrain (): Promise<DrainStatus> { return this.request('POST', '/v1/nodes/self/undrain', {}) }
  queue (): Promise<QueueStatistics> { return this.request('GET', '/v1/queue') }
  /** the cluster settings (retention, queue size, rate limits, reliability, preemption) */
  settings (): Promise<ClusterSettings> { return this.request('GET', '/v1/settings') }
  /** admin only: fields given replace the current ones, null restores a default */
  updateSettings (patch: ClusterSettingsPatch): Promise<ClusterSettings> { return this.request('PATCH', '/v1/settings', patch) }
  status (): Promise<NodeStatusView> { return this.request('GET', '/v1/status') }

  metrics (period?: string): Promise<TaskMetrics> {
    return this.request('GET', `/v1/metrics${period === undefined ? '' : `?period=${enc(period)}`}`)
  }

  /** The Prometheus text of /metrics (sent with the token, so it works on non-loopback binds too). */
  async prometheus (): Promise<string> {
    const res = await this.exchange('GET', '/metrics', undefined, this.timeoutMs)
    if (res.status < 200 || res.status > 299) throw toError(res.status, res.text)
    return res.text
  }

  /**
   * Streams /v1/events (optionally for one task) until `signal` aborts; calls `onEvent` per event.
   * Resolves when the stream ends.
   */
  async streamEvents (onEvent: (e: ClientEvent) => void, opts: { taskId?: string, signal?: AbortSignal } = {}): Promise<void> {
    const path = `/v1/events${opts.taskId === undefined ? '' : `?taskId=${enc(opts.taskId)}`}`
    const res = await this.fetchStream(path, opts.signal)
    if (res === undefined) return // aborted before the stream began
    if (!res.ok || res.body === null) throw toError(res.status, await res.text().catch(() => ''), res.statusText)
    const decoder = new TextDecoder()
    let buf = ''
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const { records, rest } = cutRecords(buf + decoder.decode(chunk, { stream: true }), '\n\n')
        buf = rest
        for (const frame of records) {
          const parsed = parseSseFrame(frame)
          if (parsed !== undefined) onEvent(parsed)
        }
      }
    } catch (err) {
      if (opts.signal?.aborted !== true) throw err
    }
  }

  /** One request; a 2xx answer's JSON body, anything else an ApiClientError. */
  async request<T> (method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const res = await this.exchange(method, path, body, timeoutMs)
    if (res.status < 200 || res.status > 299) throw toError(res.status, res.text)
    return (res.text === '' ? undefined : JSON.parse(res.text)) as T
  }

  /** One request; the answer whatever its status (scripts and tests look at error answers too). */
  async call<T = any> (method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<RawAnswer<T>> {
    const res = await this.exchange(method, path, body, timeoutMs)
    return { status: res.status, body: (res.text === '' ? undefined : JSON.parse(res.text)) as T }
  }

  private async exchange (method: string, path: string, body: unknown, timeoutMs: number): Promise<{ status: number, text: string }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(method, path, payload, timeoutMs)
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { reused?: boolean }
        // a kept-alive socket the server closed as we sent: the request never reached it
        if (e.reused === true && e.code === 'ECONNRESET' && attempt === 0 && RETRYABLE.has(method)) continue
        const why = e.code === 'ETIMEDOUT' ? 'timed out' : e.code === 'ECONNREFUSED' ? 'connection refused' : String(e.code ?? e.message)
        throw new ApiClientError(0, 'unreachable', `cannot reach the node at ${this.url} (${why})`)
      }
    }
  }

  private once (method: string, path: string, payload: Buffer | undefined, timeoutMs: number): Promise<{ status: number, text: string }> {
    const headers: Record<string, string | number> = { authorization: `Bearer ${this.token}` }
    if (payload !== undefined) { headers['content-type'] = 'application/json'; headers['content-length'] = payload.length }
    const options: RequestOptions = {
      agent: this.agent,
      method,
      hostname: this.origin.hostname.replace(/^\[|\]$/g, ''), // [::1] → ::1
      port: this.origin.port,
      path: this.origin.pathname.replace(/\/+$/, '') + path,
      headers
    }
    return new Promise((resolve, reject) => {
      const req = this.send(options, (res: IncomingMessage) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => { chunks.push(c) })
        res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
        res.on('error', fail)
      })
      const timer = setTimeout(() => { req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })) }, timeoutMs)
      function fail (err: Error): void { clearTimeout(timer); reject(Object.assign(err, { reused: req.reusedSocket })) }
      req.on('error', fail)
      req.end(payload)
    })
  }

  /** A long-lived GET through node:http (a timeout for its headers only); a non-2xx answer is an ApiClientError. */
  async openStream (path: string): Promise<IncomingMessage> {
    return (await this.longLived('GET', path, { accept: 'text/event-stream' }, req => { req.end() })).res
  }

  /** A POST whose body stays open (written by the caller) and whose answer streams back; resolves once the answer's headers came. */
  async openUpload (path: string, contentType: string): Promise<{ req: ClientRequest, res: IncomingMessage }> {
    return await this.longLived('POST', path, { 'content-type': contentType }, req => { req.flushHeaders() })
  }

  /**
   * A request whose answer streams for as long as it lasts, resolved with the answer's headers,
   * which must come within the client's timeoutMs (a stopped node must not hang the open); after
   * that no timeout. `start` sends (or ends) the request.
   */
  private longLived (method: string, path: string, headers: Record<string, string>, start: (req: ClientRequest) => void): Promise<{ req: ClientRequest, res: IncomingMessage }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })) }, this.timeoutMs)
      const req = this.send({
        agent: this.agent,
        method,
        hostname: this.origin.hostname.replace(/^\[|\]$/g, ''),
        port: this.origin.port,
        path: this.origin.pathname.replace(/\/+$/, '') + path,
        headers: { authorization: `Bearer ${this.token}`, ...headers }
      }, res => {
        clearTimeout(timer)
        const status = res.statusCode ?? 0
        if (status >= 200 && status <= 299) { resolve({ req, res }); return }
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => { chunks.push(c) })
        res.on('end', () => { req.destroy(); reject(toError(status, Buffer.concat(chunks).toString('utf8'))) })
      })
      req.on('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); reject(new ApiClientError(0, 'unreachable', `cannot reach the node at ${this.url} (${String(err.code ?? err.message)})`)) })
      start(req)
    })
  }

  private async fetchStream (path: string, signal?: AbortSignal): Promise<Response | undefined> {
    try {
      return await fetch(this.url + path, { headers: { authorization: `Bearer ${this.token}` }, signal })
    } catch (err) {
      if (signal?.aborted === true) return undefined
      const c = (err as { cause?: { code?: string, message?: string, errors?: Array<{ code?: string }> } }).cause
      const code = c?.code ?? c?.errors?.[0]?.code ?? c?.message ?? (err as Error).message
      throw new ApiClientError(0, 'unreachable', `cannot reach the node at ${this.url} (${code === 'ECONNREFUSED' ? 'connection refused' : String(code)})`)
    }
  }
}

function enc (s: string): string {
  return encodeURIComponent(s)
}

function toError (status: number, text: string, statusText = ''): ApiClientError {
  let body: { error?: { type?: string, message?: string, field?: string } } | undefined
  try { body = JSON.parse(text) as typeof body } catch { body = undefined }
  const e = body?.error
  return new ApiClientError(status, e?.type ?? `http_${status}`, e?.message ?? `HTTP ${status} ${statusText}`.trimEnd(), e?.field)
}
