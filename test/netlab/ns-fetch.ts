// HTTP relay that runs INSIDE a test namespace (`ip netns exec <ns> node --import tsx ns-fetch.ts
// <allowed-prefix>`), so the test process never dials a test address from the root namespace.
// Protocol: one JSON request per stdin line {id, method, url, headers?, body?, timeoutMs}; one JSON
// answer per stdout line {id, status, text} or {id, error}. Exits when stdin closes.
// Refuses any URL whose host is not under <allowed-prefix> (the lab's /24) or loopback.

import { createInterface } from 'node:readline'

interface Req { id: number, method: string, url: string, headers?: Record<string, string>, body?: string, timeoutMs: number }

const allowed = process.argv[2] ?? ''
const MAX_TIMEOUT_MS = 120_000

function permitted (url: string): boolean {
  let host: string
  try { host = new URL(url).hostname } catch { return false }
  return (allowed !== '' && host.startsWith(allowed)) || host === '127.0.0.1'
}

async function handle (r: Req): Promise<void> {
  if (!permitted(r.url)) { reply({ id: r.id, error: `refused: ${r.url} is not a lab address` }); return }
  const ctrl = new AbortController()
  const timer = setTimeout(() => { ctrl.abort() }, Math.min(Math.max(1, r.timeoutMs), MAX_TIMEOUT_MS))
  try {
    const res = await fetch(r.url, { method: r.method, headers: r.headers, body: r.body, signal: ctrl.signal })
    reply({ id: r.id, status: res.status, text: await res.text() })
  } catch (err) {
    reply({ id: r.id, error: ctrl.signal.aborted ? `timeout after ${r.timeoutMs} ms` : (err as Error).message })
  } finally {
    clearTimeout(timer)
  }
}

function reply (o: unknown): void { process.stdout.write(JSON.stringify(o) + '\n') }

const rl = createInterface({ input: process.stdin })
rl.on('line', line => {
  let r: Req
  try { r = JSON.parse(line) as Req } catch { return }
  void handle(r)
})
rl.on('close', () => { process.exit(0) })
reply({ id: 0, ready: true })
