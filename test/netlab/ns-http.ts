// Test-side handle on an ns-fetch.ts relay running inside one host namespace: HTTP requests to lab
// addresses go through it, so they leave from that namespace and never from the root namespace.

import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NetLab } from './netlab.js'

const here = dirname(fileURLToPath(import.meta.url))
export const REPO_ROOT = resolve(here, '../..')

export interface HttpAnswer { status: number, text: string }

export class NsHttp {
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (a: HttpAnswer) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }>()
  private readonly ready: Promise<void>

  private constructor (private readonly child: ChildProcess, host: number) {
    let markReady: () => void = () => {}
    this.ready = new Promise(res => { markReady = res })
    const rl = createInterface({ input: child.stdout! })
    rl.on('line', line => {
      let m: { id: number, ready?: boolean, status?: number, text?: string, error?: string }
      try { m = JSON.parse(line) } catch { return }
      if (m.ready === true) { markReady(); return }
      const w = this.waiting.get(m.id)
      if (w === undefined) return
      this.waiting.delete(m.id)
      clearTimeout(w.timer)
      if (m.error !== undefined) w.reject(new Error(`h${host}: ${m.error}`))
      else w.resolve({ status: m.status!, text: m.text ?? '' })
    })
    child.once('exit', () => {
      for (const [id, w] of this.waiting) { clearTimeout(w.timer); w.reject(new Error(`h${host}: relay exited`)); this.waiting.delete(id) }
    })
  }

  /** start a relay inside host i of the lab (node + tsx, from the repo root) */
  static async start (lab: NetLab, i: number, timeoutMs = 20_000): Promise<NsHttp> {
    const prefix = lab.addr(i).replace(/\d+$/, '')
    const child = lab.spawnIn(i, process.execPath, ['--import', 'tsx', resolve(here, 'ns-fetch.ts'), prefix], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
    const http = new NsHttp(child, i)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, rej) => { timer = setTimeout(() => { rej(new Error(`h${i}: relay not ready in ${timeoutMs} ms`)) }, timeoutMs) })
    try { await Promise.race([http.ready, timeout]) } finally { clearTimeout(timer) }
    return http
  }

  request (method: string, url: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<HttpAnswer> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      // the relay times out itself; this is the backstop if the relay hangs
      const timer = setTimeout(() => { this.waiting.delete(id); reject(new Error(`no answer from relay in ${timeoutMs + 5000} ms`)) }, timeoutMs + 5000)
      this.waiting.set(id, { resolve, reject, timer })
      this.child.stdin!.write(JSON.stringify({ id, method, url, headers, body, timeoutMs }) + '\n')
    })
  }

  close (): void { this.child.stdin?.end() }
}
