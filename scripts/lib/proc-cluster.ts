// Start real node processes on this machine (loopback only) for the demo, the benchmark and the
// chaos tests. Each node is `retire-cluster start` in its own process with its own data dir; we
// read the node.json and api-token it writes to talk to it over HTTP.
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiClient } from '../../src/node/api/client.js'

const here = dirname(fileURLToPath(import.meta.url))
/** the CLI entry: works from scripts/lib (tsx) and from dist/scripts/lib (built) */
export function cliPath (): string {
  for (const c of [resolve(here, '../../bin/retire-cluster.js'), resolve(here, '../../../bin/retire-cluster.js')]) if (existsSync(c)) return c
  throw new Error('bin/retire-cluster.js not found')
}

export interface NodeInfoFile { peerId: string, apiUrl: string | null, multiaddrs: string[], pid: number }

export interface NodeProcOptions {
  name: string
  dataDir: string
  bootstrap?: string[]
  bootstrapExpect?: number
  role?: string
  extraArgs?: string[]
  logFile?: string
  env?: Record<string, string>
}

export class NodeProc {
  proc?: ChildProcess
  info?: NodeInfoFile
  token = ''
  exited?: Promise<number | null>
  /** performance.now() of this process when the node was last spawned (start-up figures) */
  spawnedAt = 0
  private stderrTail: string[] = []
  /** the TypeScript client, for this start's API address and token (a restart may change both) */
  private client?: { key: string, api: ApiClient }

  constructor (readonly opts: NodeProcOptions) {}

  get name (): string { return this.opts.name }
  get pid (): number | undefined { return this.proc?.pid }
  get apiUrl (): string { return this.info?.apiUrl ?? '' }
  get peerId (): string { return this.info?.peerId ?? '' }
  get alive (): boolean { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null }

  async start (timeoutMs = 20_000): Promise<void> {
    const o = this.opts
    mkdirSync(o.dataDir, { recursive: true })
    rmSync(join(o.dataDir, 'node.json'), { force: true })
    const args = [cliPath(), 'start', '--data-dir', o.dataDir, '--name', o.name, '--listen', '/ip4/127.0.0.1/tcp/0',
      '--api-host', '127.0.0.1', '--api-port', '0', '--no-mdns', '--bootstrap-expect', String(o.bootstrapExpect ?? 1)]
    for (const b of o.bootstrap ?? []) args.push('--bootstrap', b)
    if (o.role !== undefined) args.push('--role', o.role)
    args.push(...(o.extraArgs ?? []))
    // RC_LOG_LEVEL: the nodes' log level (debug adds a stats line a second)
    if (process.env.RC_LOG_LEVEL !== undefined) args.push('--log-level', process.env.RC_LOG_LEVEL)
    // RC_START_FLAGS: extra `retire-cluster start` flags for every node (e.g. --no-direct-links)
    args.push(...(process.env.RC_START_FLAGS ?? '').split(' ').filter(a => a !== ''))
    // RC_NODE_ARGS: extra node flags for the node processes (e.g. --cpu-prof for profiling)
    const nodeArgs = (process.env.RC_NODE_ARGS ?? '').split(' ').filter(a => a !== '')
    const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...o.env } })
    this.proc = child
    this.spawnedAt = performance.now()
    this.exited = new Promise(res => child.once('exit', code => { res(code) }))
    child.stderr!.setEncoding('utf8')
    // RC_NODE_LOGS=1: every node's whole stderr also goes to <dataDir>/stderr.log (post-mortems)
    const logFile = process.env.RC_NODE_LOGS === '1' ? join(o.dataDir, 'stderr.log') : undefined
    child.stderr!.on('data', (chunk: string) => {
      if (logFile !== undefined) appendFileSync(logFile, chunk)
      for (const line of chunk.split('\n')) {
        if (line === '') continue
        this.stderrTail.push(line); if (this.stderrTail.length > 200) this.stderrTail.shift()
        if (process.env.RC_ECHO_STATS !== undefined && line.includes('stats:')) process.stderr.write(`${o.name} ${line}\n`)
      }
    })
    const file = join(o.dataDir, 'node.json')
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (!this.alive) throw new Error(`${o.name} exited during start:\n${this.logTail()}`)
      if (existsSync(file)) {
        try {
          const info = JSON.parse(readFileSync(file, 'utf8')) as NodeInfoFile
          if (info.pid === child.pid) {
            this.info = info
            this.token = readFileSync(join(o.dataDir, 'api-token'), 'utf8').trim()
            return
          }
        } catch { /* being written */ }
      }
      await sleep(50)
    }
    throw new Error(`${o.name} did not start within ${timeoutMs} ms:\n${this.logTail()}`)
  }

  logTail (n = 40): string { return this.stderrTail.slice(-n).join('\n') }

  signal (sig: NodeJS.Signals): void { if (this.alive) this.proc!.kill(sig) }

  async kill9 (): Promise<void> {
    if (!this.alive) return
    this.proc!.kill('SIGKILL')
    await this.exited
  }

  /** graceful stop (SIGTERM: the node hands leadership over first) */
  async stop (timeoutMs = 10_000): Promise<void> {
    if (!this.alive) return
    this.proc!.kill('SIGTERM')
    const t = setTimeout(() => { this.signal('SIGKILL') }, timeoutMs)
    await this.exited
    clearTimeout(t)
  }

  /** One request through the project's TypeScript client; the answer whatever its status. */
  async api<T = any> (method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<{ status: number, body: T }> {
    return await this.apiClient().call<T>(method, path, body, timeoutMs)
  }

  /** the project's TypeScript client for this start's API address and token */
  apiClient (): ApiClient {
    const key = `${this.apiUrl} ${this.token}`
    if (this.client?.key !== key) {
      this.client?.api.close()
      this.client = { key, api: new ApiClient({ url: this.apiUrl, token: this.token }) }
    }
    return this.client.api
  }

  /** RSS of the process in MB, from /proc */
  rssMb (): number | undefined { return rssMbOf(this.pid!) }
}

/** RSS of a process in MB, from /proc; undefined once it is gone */
export function rssMbOf (pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? undefined : Number(m[1]) / 1024
  } catch { return undefined }
}

export interface ProcClusterOptions {
  nodes: number
  baseDir: string
  /** all nodes form the cluster together (default) or the first forms and the rest join */
  bootstrapExpect?: number
  roles?: string[]
  extraArgs?: (i: number) => string[]
  fresh?: boolean
}

/** Start n nodes: the first one, then the others bootstrapped to it. */
export async function startProcCluster (o: ProcClusterOptions): Promise<NodeProc[]> {
  if (o.fresh !== false) rmSync(o.baseDir, { recursive: true, force: true })
  const expect = o.bootstrapExpect ?? o.nodes
  const procs: NodeProc[] = []
  for (let i = 0; i < o.nodes; i++) {
    procs.push(new NodeProc({
      name: `node${i + 1}`,
      dataDir: join(o.baseDir, `node${i + 1}`),
      bootstrapExpect: expect,
      ...(o.roles?.[i] !== undefined ? { role: o.roles[i] } : {}),
      extraArgs: o.extraArgs?.(i) ?? []
    }))
  }
  await procs[0]!.start()
  const seed = procs[0]!.info!.multiaddrs
  await Promise.all(procs.slice(1).map(async p => { p.opts.bootstrap = seed; await p.start() }))
  return procs
}

/** wait until one leader is known to every live node and all of them see `expectNodes` devices */
export async function waitForLeader (procs: NodeProc[], timeoutMs = 30_000, pollMs = 200): Promise<NodeProc> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const live = procs.filter(p => p.alive)
      const views = await Promise.all(live.map(p => p.api<any[]>('GET', '/v1/nodes', undefined, 2000)))
      const leaders = new Set<string>()
      for (const v of views) for (const n of v.body ?? []) if (n.isLeader === true) leaders.add(n.id)
      if (leaders.size === 1 && views.every(v => (v.body ?? []).some((n: any) => n.isLeader === true))) {
        const id = [...leaders][0]!
        const leader = live.find(p => p.peerId === id)
        if (leader !== undefined) return leader
      }
      last = `leaders seen: ${[...leaders].map(x => x.slice(-8)).join(',') || 'none'}`
    } catch (err) { last = (err as Error).message }
    await sleep(pollMs)
  }
  throw new Error(`no single leader within ${timeoutMs} ms (${last})`)
}

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/**
 * How often the process's main thread went to sleep and was woken (voluntary context switches, from
 * /proc): on an idle node, its event loop's wake-ups. What keeps an idle phone's CPU out of its
 * deep sleep states is the count of wake-ups more than the CPU they use. 0 where /proc is missing.
 */
export function wakeups (pid: number): number {
  try {
    const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1])
  } catch { return 0 }
}

/** read and write system calls a process made, all threads (sockets, files, pipes), from /proc (Linux) */
export function ioCalls (pid: number): { reads: number, writes: number } {
  try {
    const f = readFileSync(`/proc/${pid}/io`, 'utf8')
    return { reads: Number(/^syscr:\s+(\d+)/m.exec(f)?.[1] ?? 0), writes: Number(/^syscw:\s+(\d+)/m.exec(f)?.[1] ?? 0) }
  } catch { return { reads: 0, writes: 0 } }
}

/** user + system CPU seconds of a process, from /proc (Linux) */
export function cpuSeconds (pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[11]) + Number(rest[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
  } catch { return 0 }
}
