// The soak's nodes: real `retire-cluster start` processes on 127.0.0.1 (scripts/lib/proc-cluster.ts),
// each with its data dir and a log file in the run dir, plus what the nemesis needs on top: restart on
// the same data dir (bootstrapped to whoever is alive), SIGSTOP/SIGCONT with the "paused" state kept
// so nobody waits on a frozen node's HTTP, and the leader as the live nodes see it.
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NodeProc, sleep } from '../../scripts/lib/proc-cluster.js'

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
}

export class SoakNode {
  readonly proc: NodeProc
  paused = false
  /** how many times this node was started (1 = first start) */
  starts = 0
  /** kill -9 / SIGTERM count, for the metrics check (a killed node may lose unsynced history rows) */
  crashes = 0
  private log?: WriteStream

  constructor (readonly name: string, readonly dataDir: string, readonly logPath: string, expect: number, o: SoakNodeOptions, extra: string[] = []) {
    this.proc = new NodeProc({
      name,
      dataDir,
      bootstrapExpect: expect,
      extraArgs: ['--device-timeout-ms', String(o.deviceTimeoutMs), '--max-concurrent', String(o.maxConcurrent), '--log-level', o.logLevel, ...extra]
    })
  }

  get alive (): boolean { return this.proc.alive }
  /** alive and not SIGSTOPped: safe to talk to */
  get up (): boolean { return this.proc.alive && !this.paused }
  get peerId (): string { return this.proc.peerId }

  async start (bootstrap: string[]): Promise<void> {
    this.proc.opts.bootstrap = bootstrap
    this.paused = false
    await this.proc.start(30_000)
    this.starts++
    this.log ??= createWriteStream(this.logPath, { flags: 'a' })
    const log = this.log
    log.write(`=== ${new Date().toISOString()} start #${this.starts} pid ${String(this.proc.pid)}\n`)
    this.proc.proc?.stderr?.on('data', (chunk: string) => { log.write(chunk) })
  }

  async kill9 (): Promise<void> {
    if (!this.alive) return
    this.crashes++
    this.proc.signal('SIGCONT')
    this.paused = false
    await this.proc.kill9()
  }

  /** SIGTERM: a leader hands leadership over before it exits (bounded by NodeProc.stop's SIGKILL) */
  async terminate (): Promise<void> {
    if (!this.alive) return
    this.proc.signal('SIGCONT')
    this.paused = false
    await this.proc.stop(10_000)
  }

  pause (): void { if (this.alive) { this.proc.signal('SIGSTOP'); this.paused = true } }
  resume (): void { if (this.alive) this.proc.signal('SIGCONT'); this.paused = false }

  async api<T = any> (method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<{ status: number, body: T }> {
    if (!this.up) throw new Error(`${this.name} is down or paused`)
    return await this.proc.api<T>(method, path, body, timeoutMs)
  }

  closeLog (): void { this.log?.end(); this.log = undefined }
}

export class SoakCluster {
  readonly nodes: SoakNode[] = []

  constructor (readonly baseDir: string, n: number, o: SoakNodeOptions) {
    mkdirSync(join(baseDir, 'data'), { recursive: true })
    for (let i = 1; i <= n; i++) {
      this.nodes.push(new SoakNode(`n${i}`, join(baseDir, 'data', `n${i}`), join(baseDir, `n${i}.log`), n, o))
    }
  }

  async startAll (): Promise<void> {
    const [first, ...rest] = this.nodes
    await first!.start([])
    await Promise.all(rest.map(async x => { await x.start(first!.proc.info!.multiaddrs) }))
  }

  /** restart a dead node on its data dir, bootstrapped to every node that is up */
  async restart (x: SoakNode): Promise<void> {
    if (x.alive) return
    const boot = this.nodes.filter(y => y !== x && y.alive).flatMap(y => y.proc.info?.multiaddrs ?? [])
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
