// A real node process (`retire-cluster start`) inside one lab host namespace, listening (libp2p and
// HTTP API) on that host's address. Its API is reached through an NsHttp relay in the same namespace.

import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { NetLab } from './netlab.js'
import { NsHttp, REPO_ROOT } from './ns-http.js'

export const CLI = resolve(REPO_ROOT, 'bin/retire-cluster.js')
export const CLI_MAIN = resolve(REPO_ROOT, 'dist/src/node/cli/main.js')
export const P2P_PORT = 4101
export const API_PORT = 8101

export interface NsNodeOptions {
  lab: NetLab
  host: number
  dataDir: string
  bootstrap?: string[]
  bootstrapExpect: number
  extraArgs?: string[]
}

export interface ApiAnswer<T> { status: number, body: T }

export class NsNode {
  proc?: ChildProcess
  http?: NsHttp
  peerId = ''
  multiaddrs: string[] = []
  private token = ''
  private readonly tail: string[] = []

  constructor (readonly o: NsNodeOptions) {}

  get name (): string { return `node${this.o.host}` }
  get addr (): string { return this.o.lab.addr(this.o.host) }
  get alive (): boolean { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null }

  async start (timeoutMs = 30_000): Promise<void> {
    const { lab, host, dataDir } = this.o
    mkdirSync(dataDir, { recursive: true })
    rmSync(join(dataDir, 'node.json'), { force: true })
    const args = [CLI, 'start', '--data-dir', dataDir, '--name', this.name,
      '--listen', `/ip4/${this.addr}/tcp/${P2P_PORT}`, '--api-host', this.addr, '--api-port', String(API_PORT),
      '--no-mdns', '--bootstrap-expect', String(this.o.bootstrapExpect), ...(this.o.extraArgs ?? [])]
    for (const b of this.o.bootstrap ?? []) args.push('--bootstrap', b)
    const [child, http] = await Promise.all([
      Promise.resolve(lab.spawnIn(host, process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] })),
      NsHttp.start(lab, host)
    ])
    this.proc = child
    this.http = http
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line !== '') { this.tail.push(line); if (this.tail.length > 100) this.tail.shift() }
    })
    const file = join(dataDir, 'node.json')
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (!this.alive) throw new Error(`${this.name} exited during start:\n${this.logTail()}`)
      if (existsSync(file)) {
        try {
          const info = JSON.parse(readFileSync(file, 'utf8')) as { peerId: string, multiaddrs: string[], pid: number }
          // `ip netns exec` execs node, so the PID we spawned is the node's own
          if (info.pid === child.pid) {
            this.peerId = info.peerId
            this.multiaddrs = info.multiaddrs.map(a => a.includes('/p2p/') ? a : `${a}/p2p/${info.peerId}`)
            this.token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim()
            return
          }
        } catch { /* being written */ }
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    throw new Error(`${this.name} did not start within ${timeoutMs} ms:\n${this.logTail()}`)
  }

  logTail (n = 30): string { return this.tail.slice(-n).join('\n') }

  /** call the node's HTTP API from inside its namespace; JSON in and out */
  async api<T = any> (method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const a = await this.http!.request(method, `http://${this.addr}:${API_PORT}${path}`, headers, body === undefined ? undefined : JSON.stringify(body), timeoutMs)
    let parsed: unknown
    try { parsed = a.text === '' ? undefined : JSON.parse(a.text) } catch { parsed = a.text }
    return { status: a.status, body: parsed as T }
  }

  /** SIGTERM, then SIGKILL after timeoutMs; the relay is closed too */
  async stop (timeoutMs = 5000): Promise<void> {
    this.http?.close()
    const p = this.proc
    if (p === undefined || !this.alive) return
    const exited = new Promise<void>(resolve => p.once('exit', () => { resolve() }))
    p.kill('SIGTERM')
    const t = setTimeout(() => { if (this.alive) p.kill('SIGKILL') }, timeoutMs)
    await exited
    clearTimeout(t)
  }
}
