// The soak's nodes: real `retire-cluster start` processes on 127.0.0.1 (scripts/lib/proc-cluster.ts),
// each with its data dir and a log file in the run dir, plus what the nemesis needs on top: restart on
// the same data dir (bootstrapped to whoever is alive), SIGSTOP/SIGCONT with the "paused" state kept
// so nobody waits on a frozen node's HTTP, and the leader as the live nodes see it.
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import { NodeProc, sleep } from '../../scripts/lib/proc-cluster.js'
import type { SubmitStream } from '../../src/node/api/submit-stream.js'
import type { NetLab } from '../netlab/netlab.js'
import { NsNode } from '../netlab/ns-node.js'

const here = dirname(fileURLToPath(import.meta.url))
/** the CLI the node processes run (the build output); from test/soak (tsx) and from dist/test/soak */
export function builtCli (): string | undefined {
  const inDist = here.split(/[\\/]/).includes('dist')
  const c = inDist ? resolve(here, '../../src/node/cli/main.js') : resolve(here, '../../dist/src/node/cli/main.js')
  return existsSync(c) ? c : undefined
}

export interface SoakNodeOptions {
  deviceTimeoutMs: number
  maxConcurrent: number
  logLevel: string
  snapshotEntries?: number
}

/** how a node process is started and reached: on loopback (NodeProc) or in a netns host (NsNode) */
interface Backend {
  start: (bootstrap: string[]) => Promise<void>
  child: () => ChildProcess | undefined
  peerId: () => string
  multiaddrs: () => string[]
  api: <T>(method: string, path: string, body: unknown, timeoutMs: number) => Promise<{ status: number, body: T }>
  /** after the process died: close what belongs to it (the netns HTTP relay) */
  closeAfterExit: () => void
  /** many submissions on one connection (POST /v1/tasks/stream); loopback nodes only (the netns relay is request/response) */
  openSubmissions?: () => Promise<SubmitStream>
}

function loopBackend (p: NodeProc): Backend {
  return {
    start: async b => { p.opts.bootstrap = b; await p.start(60_000) },
    child: () => p.proc,
    peerId: () => p.peerId,
    multiaddrs: () => p.info?.multiaddrs ?? [],
    api: async (m, path, body, t) => await p.api(m, path, body, t),
    closeAfterExit: () => {},
    openSubmissions: async () => await p.apiClient().openSubmissions()
  }
}

function nsBackend (n: NsNode): Backend {
  return {
    start: async b => { n.http?.close(); n.o.bootstrap = b; await n.start(60_000) },
    child: () => n.proc,
    peerId: () => n.peerId,
    multiaddrs: () => n.multiaddrs,
    api: async (m, path, body, t) => await n.api(m, path, body, t),
    closeAfterExit: () => { n.http?.close() }
  }
}

export class SoakNode {
  paused = false
  /** how many times this node was started (1 = first start) */
  starts = 0
  /** kill -9 / SIGTERM count */
  crashes = 0
  private log?: WriteStream
  private readonly tail: string[] = []
  private stream?: { start: number, stream: Promise<SubmitStream> }
  private readonly b: Backend

  constructor (readonly name: string, readonly dataDir: string, readonly logPath: string, expect: number, o: SoakNodeOptions,
    net?: { lab: NetLab, host: number }) {
    const extraArgs = ['--device-timeout-ms', String(o.deviceTimeoutMs), '--max-concurrent', String(o.maxConcurrent), '--log-level', o.logLevel,
      ...(o.snapshotEntries === undefined ? [] : ['--snapshot-entries', String(o.snapshotEntries)])]
    this.b = net === undefined
      ? loopBackend(new NodeProc({ name, dataDir, bootstrapExpect: expect, extraArgs }))
      : nsBackend(new NsNode({ lab: net.lab, host: net.host, dataDir, bootstrapExpect: expect, extraArgs }))
  }

  get alive (): boolean {
    const c = this.b.child()
    return c !== undefined && c.exitCode === null && c.signalCode === null
  }

  /** alive and not SIGSTOPped: safe to talk to */
  get up (): boolean { return this.alive && !this.paused }
  get peerId (): string { return this.b.peerId() }
  get multiaddrs (): string[] { return this.b.multiaddrs() }
  get pid (): number | undefined { return this.b.child()?.pid }

  async start (bootstrap: string[]): Promise<void> {
    this.paused = false
    await this.b.start(bootstrap)
    this.starts++
    this.log ??= createWriteStream(this.logPath, { flags: 'a' })
    const log = this.log
    log.write(`=== ${new Date().toISOString()} start #${this.starts} pid ${String(this.pid)}\n`)
    this.b.child()?.stderr?.on('data', (chunk: string | Buffer) => {
      log.write(chunk)
      for (const line of String(chunk).split('\n')) if (line !== '') { this.tail.push(line); if (this.tail.length > 100) this.tail.shift() }
    })
  }

  /** the last logged line matching `pattern` (a regexp source), for a fault's report */
  lastLogLine (pattern: string): string {
    const re = new RegExp(pattern)
    for (let i = this.tail.length - 1; i >= 0; i--) if (re.test(this.tail[i]!)) return this.tail[i]!.slice(0, 300)
    return '(no matching log line)'
  }

  signal (sig: NodeJS.Signals): void { if (this.alive) this.b.child()!.kill(sig) }

  private async exited (timeoutMs: number): Promise<void> {
    const c = this.b.child()
    if (c === undefined || !this.alive) return
    await new Promise<void>(resolve => {
      const t = setTimeout(() => { this.signal('SIGKILL') }, timeoutMs)
      c.once('exit', () => { clearTimeout(t); resolve() })
    })
  }

  async kill9 (): Promise<void> {
    if (!this.alive) return
    this.crashes++
    const done = this.exited(10_000)
    this.signal('SIGKILL')
    await done
    this.paused = false
    this.b.closeAfterExit()
  }

  /** SIGTERM: a leader hands leadership over before it exits (SIGKILL after 10 s) */
  async terminate (): Promise<void> {
    if (!this.alive) return
    this.signal('SIGCONT')
    this.paused = false
    const done = this.exited(10_000)
    this.signal('SIGTERM')
    await done
    this.b.closeAfterExit()
  }

  pause (): void { if (this.alive) { this.signal('SIGSTOP'); this.paused = true } }
  resume (): void { this.signal('SIGCONT'); this.paused = false }

  async api<T = any> (method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<{ status: number, body: T }> {
    if (!this.up) throw new Error(`${this.name} is down or paused`)
    return await this.b.api<T>(method, path, body, timeoutMs)
  }

  /** this node's submission stream (one per start; undefined where the backend has none) */
  submissions (): Promise<SubmitStream> | undefined {
    if (this.b.openSubmissions === undefined) return undefined
    if (!this.up) return Promise.reject(new Error(`${this.name} is down or paused`))
    if (this.stream?.start !== this.starts) {
      const s = this.b.openSubmissions()
      this.stream = { start: this.starts, stream: s }
      s.catch(() => { if (this.stream?.stream === s) this.stream = undefined })
    }
    return this.stream.stream
  }

  /** forget the submission stream (it failed): the next submission opens another */
  dropSubmissions (): void {
    const s = this.stream?.stream
    this.stream = undefined
    s?.then(x => { x.destroy() }, () => {})
  }

  closeLog (): void { this.log?.end(); this.log = undefined }
}

export class SoakCluster {
  readonly nodes: SoakNode[] = []

  /** node i runs on loopback, or in lab host i when a NetLab is given */
  constructor (readonly baseDir: string, n: number, o: SoakNodeOptions, readonly lab?: NetLab, dataDirOf?: (i: number) => string) {
    mkdirSync(join(baseDir, 'data'), { recursive: true })
    for (let i = 1; i <= n; i++) {
      const dataDir = dataDirOf?.(i) ?? join(baseDir, 'data', `n${i}`)
      this.nodes.push(new SoakNode(`n${i}`, dataDir, join(baseDir, `n${i}.log`), n, o, lab === undefined ? undefined : { lab, host: i }))
    }
  }

  /** node i (1-based) */
  node (i: number): SoakNode { return this.nodes[i - 1]! }
  index (x: SoakNode): number { return this.nodes.indexOf(x) + 1 }

  async startAll (): Promise<void> {
    const [first, ...rest] = this.nodes
    await first!.start([])
    await Promise.all(rest.map(async x => { await x.start(first!.multiaddrs) }))
  }

  /** restart a dead node on its data dir, bootstrapped to every node that is up */
  async restart (x: SoakNode): Promise<void> {
    if (x.alive) return
    const boot = this.nodes.filter(y => y !== x && y.alive).flatMap(y => y.multiaddrs)
    await x.start(boot)
  }

  up (): SoakNode[] { return this.nodes.filter(x => x.up) }

  /**
   * The leader a majority of the nodes that are up agree on (by /v1/status), or undefined. One round.
   * A stale leader that still believes it leads is not enough: the majority view wins.
   */
  async leader (): Promise<SoakNode | undefined> {
    const views = await Promise.all(this.up().map(async x => {
      try {
        const r = await x.api<{ raft: { leaderId: string | null } }>('GET', '/v1/status', undefined, 1500)
        return r.body?.raft?.leaderId ?? null
      } catch { return null }
    }))
    const votes = new Map<string, number>()
    for (const v of views) if (v !== null) votes.set(v, (votes.get(v) ?? 0) + 1)
    const majority = Math.floor(this.nodes.length / 2) + 1
    for (const [id, n] of votes) {
      if (n < majority) continue
      const l = this.nodes.find(x => x.peerId === id)
      if (l?.up === true) return l
    }
    return undefined
  }

  /** poll until a majority agrees on an up leader (other than `not`); undefined after timeoutMs */
  async waitLeader (timeoutMs: number, not?: SoakNode): Promise<SoakNode | undefined> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const l = await this.leader()
      if (l !== undefined && l !== not) return l
      await sleep(100)
    }
    return undefined
  }

  /** SIGCONT and restart everything: the end of all faults */
  async healAll (): Promise<void> {
    for (const x of this.nodes) if (x.paused) x.resume()
    for (const x of this.nodes) if (!x.alive) await this.restart(x)
  }

  async killAll (): Promise<void> {
    await Promise.all(this.nodes.map(async x => { await x.kill9() }))
    for (const x of this.nodes) x.closeLog()
  }
}
