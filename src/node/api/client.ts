// A small client for the node's HTTP API (global fetch). The CLI, scripts and tests use it.
//
//   const client = await ApiClient.fromDataDir('~/.retire-cluster')
//   const id = await client.submitTask({ task_type: 'echo', payload: { message: 'hi' } })
//   const record = await client.waitTask(id)

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ClusterSettings, ClusterSettingsPatch, TaskRecord } from '../../sched/commands.js'
import type { TaskStatus } from '../../sched/types.js'
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

export class ApiClient {
  readonly url: string
  private readonly token: string
  private readonly timeoutMs: number

  constructor (opts: ApiClientOptions) {
    this.url = opts.url.replace(/\/+$/, '')
    this.token = opts.token
    this.timeoutMs = opts.timeoutMs ?? 30_000
  }

  /** Reads `<dataDir>/node.json` (apiUrl) and `<dataDir>/api-token`, as the node wrote them. */
  static async fromDataDir (dataDir: string): Promise<ApiClient> {
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
    const res = await this.fetch('GET', '/metrics', undefined, this.timeoutMs)
    if (!res.ok) throw await toError(res)
    return await res.text()
  }

  /**
   * Streams /v1/events (optionally for one task) until `signal` aborts; calls `onEvent` per event.
   * Resolves when the stream ends.
   */
  async streamEvents (onEvent: (e: ClientEvent) => void, opts: { taskId?: string, signal?: AbortSignal } = {}): Promise<void> {
    const path = `/v1/events${opts.taskId === undefined ? '' : `?taskId=${enc(opts.taskId)}`}`
    const res = await this.fetch('GET', path, undefined, undefined, opts.signal)
    if (!res.ok || res.body === null) throw await toError(res)
    const decoder = new TextDecoder()
    let buf = ''
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true })
        let cut: number
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, cut)
          buf = buf.slice(cut + 2)
          const parsed = parseFrame(frame)
          if (parsed !== undefined) onEvent(parsed)
        }
      }
    } catch (err) {
      if (opts.signal?.aborted !== true) throw err
    }
  }

  async request<T> (method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const res = await this.fetch(method, path, body, timeoutMs)
    if (!res.ok) throw await toError(res)
    return await res.json() as T
  }

  private async fetch (method: string, path: string, body: unknown, timeoutMs?: number, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const signals = [signal, timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs)].filter(s => s !== undefined)
    try {
      return await fetch(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signals.length === 0 ? undefined : AbortSignal.any(signals)
      })
    } catch (err) {
      const c = (err as { cause?: { code?: string, message?: string, errors?: Array<{ code?: string }> } }).cause
      const code = c?.code ?? c?.errors?.[0]?.code ?? ((err as Error).name === 'TimeoutError' ? 'TimeoutError' : c?.message ?? (err as Error).message)
      const why = code === 'TimeoutError' ? 'timed out' : code === 'ECONNREFUSED' ? 'connection refused' : String(code)
      throw new ApiClientError(0, 'unreachable', `cannot reach the node at ${this.url} (${why})`)
    }
  }
}

function isFinal (r: TaskRecord): boolean {
  return ['completed', 'failed', 'cancelled', 'timeout'].includes(r.status) && r.replacedBy === undefined
}

function enc (s: string): string {
  return encodeURIComponent(s)
}

async function toError (res: Response): Promise<ApiClientError> {
  let body: { error?: { type?: string, message?: string, field?: string } } | undefined
  try { body = await res.json() as typeof body } catch { body = undefined }
  const e = body?.error
  return new ApiClientError(res.status, e?.type ?? `http_${res.status}`, e?.message ?? `HTTP ${res.status} ${res.statusText}`, e?.field)
}

function parseFrame (frame: string): ClientEvent | undefined {
  let event = 'message'
  let data = ''
  for (const line of frame.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7)
    else if (line.startsWith('data: ')) data += line.slice(6)
  }
  if (data === '') return undefined
  return { event, data: JSON.parse(data) as Record<string, unknown> }
}
