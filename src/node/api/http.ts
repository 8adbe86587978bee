// Small helpers over node:http: bounded JSON bodies, JSON replies, and typed query parameters.

import type { IncomingMessage, ServerResponse } from 'node:http'
import { InvalidRequestError, PayloadTooLargeError, toErrorResponse } from './errors.js'
import { MAX_BODY_BYTES } from './limits.js'

/** Reads and parses a JSON object body, refusing more than `limitBytes` (413) and non-objects (400). */
export async function readJsonObject (req: IncomingMessage, limitBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limitBytes) throw new PayloadTooLargeError(limitBytes)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limitBytes) throw new PayloadTooLargeError(limitBytes)
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') throw new InvalidRequestError(undefined, 'request body is empty; expected a JSON object')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new InvalidRequestError(undefined, `request body is not valid JSON: ${(err as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidRequestError(undefined, 'request body must be a JSON object')
  }
  return value as Record<string, unknown>
}

export function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store'
  })
  res.end(text)
}

export function sendError (res: ServerResponse, err: unknown): void {
  const { status, body } = toErrorResponse(err)
  if (res.headersSent) {
    res.destroy()
    return
  }
  // A request body we refused to read may still be arriving; close so the client sees the reply —
  // and so a caller without the token cannot hold the connection by trickling a body nobody reads.
  if (status === 413 || status === 401) res.setHeader('connection', 'close')
  sendJson(res, status, body)
}

/** An integer query parameter in [min, max], or `fallback` when absent. */
export function intParam (query: URLSearchParams, name: string, min: number, max: number, fallback: number): number {
  const raw = query.get(name)
  if (raw === null || raw === '') return fallback
  if (!/^-?\d+$/.test(raw)) throw new InvalidRequestError(name, `${name} must be an integer, got "${raw}"`)
  const n = Number(raw)
  if (n < min || n > max) throw new InvalidRequestError(name, `${name} must be between ${min} and ${max}, got ${n}`)
  return n
}

/** A query parameter that must be one of `allowed`, or undefined when absent. */
export function enumParam<T extends string> (query: URLSearchParams, name: string, allowed: readonly T[]): T | undefined {
  const raw = query.get(name)
  if (raw === null || raw === '') return undefined
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new InvalidRequestError(name, `${name} must be one of ${allowed.join(', ')}, got "${raw}"`)
  }
  return raw as T
}
