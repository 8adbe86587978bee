// Bearer-token checks. One token per node (the node writes it to <dataDir>/api-token); compared in
// constant time so response timing leaks nothing about it.

import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost', '[::1]'])

export function isLoopbackHost (host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/**
 * True when the Host header names this machine's loopback. Guards the token-free pages against DNS
 * rebinding: a web page on evil.example that resolves to 127.0.0.1 still sends `Host: evil.example`.
 */
export function hostHeaderIsLoopback (req: IncomingMessage): boolean {
  const host = req.headers.host
  if (host === undefined) return false
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '')
  return isLoopbackHost(name)
}

export class TokenChecker {
  private readonly token: Buffer
  constructor (token: string) {
    if (token.length < 16) throw new Error('API token must be at least 16 characters')
    this.token = Buffer.from(token)
  }

  /** Checks `Authorization: Bearer <token>`, or `?token=` when `allowQuery` (browser page loads). */
  matches (req: IncomingMessage, query?: URLSearchParams): boolean {
    const header = req.headers.authorization
    let given: string | undefined
    if (typeof header === 'string' && header.startsWith('Bearer ')) given = header.slice(7).trim()
    else if (query !== undefined) given = query.get('token') ?? undefined
    if (given === undefined || given === '') return false
    // Only the token's length can show in the timing, and a generated token is always 48 hex
    // characters. (A SHA-256 of both sides, to make the lengths equal, was ~3 % of a busy node's CPU.)
    const g = Buffer.from(given)
    return g.length === this.token.length && timingSafeEqual(g, this.token)
  }
}
