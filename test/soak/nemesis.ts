// The nemesis: process faults on a schedule that is a pure function of the seed (planFaults). One fault
// at a time, each healed before the next, so at most a minority is ever down or frozen and the cluster
// can keep committing; which node a fault hits is chosen at run time from the plan's random numbers
// ("the leader", "a follower") because who leads depends on timing.
//
//   kill-leader        kill -9 the leader, restart it after `downMs`
//   kill-worker        kill -9 a follower, restart it after `downMs`
//   kill-new-leader    kill -9 the leader, restart it at once, wait for the next leader, and kill -9
//                      that one within its first `earlyMs` (0-2 s) of leadership; restart it too
//   pause              SIGSTOP a node (the leader half the time) for `downMs`, then SIGCONT
//   transfer           SIGTERM the leader (it hands leadership over first), restart it after `downMs`
//   kill-leader-mid-batch  submit 100 echoes as one batch through a follower and kill -9 the leader
//                      0-400 ms later, while their assignments are being dispatched and committed
//
// Extra kinds (network, disk) plug in through `extra`: a name and a function that runs the fault and
// heals it before returning.
import { hashSeed, mulberry32 } from '../../src/sched/rng.js'
import { sleep } from '../../scripts/lib/proc-cluster.js'
import type { SoakCluster, SoakNode } from './cluster.js'
import type { HistoryWriter } from './history.js'

export const PROCESS_FAULTS = ['kill-leader', 'kill-worker', 'kill-new-leader', 'pause', 'transfer', 'kill-leader-mid-batch'] as const

/** op numbers of the nemesis' own submissions (the workload's are far below) */
const NEMESIS_OP_BASE = 800_000_000_000

export interface PlannedFault {
  kind: string
  /** random numbers that pick the target at run time */
  u: number
  v: number
  downMs: number
  earlyMs: number
  /** quiet time after this fault heals */
  gapMs: number
}

/** The first `max` faults for this seed, drawn from `kinds` (bounded: the run stops at its deadline). */
export function planFaults (seed: number, kinds: readonly string[], max = 500): PlannedFault[] {
  const r = mulberry32(hashSeed(`${seed}:nemesis`))
  const plan: PlannedFault[] = []
  for (let i = 0; i < max; i++) {
    plan.push({
      kind: kinds[Math.floor(r() * kinds.length)]!,
      u: r(),
      v: r(),
      downMs: Math.round(300 + r() * 3700),
      earlyMs: Math.round(r() * 2000),
      gapMs: Math.round(500 + r() * 2500)
    })
  }
  return plan
}

export type ExtraFault = (f: PlannedFault, ctx: NemesisContext) => Promise<void>

export interface NemesisContext {
  cluster: SoakCluster
  h: HistoryWriter
  note: (kind: string, phase: 'start' | 'end' | 'info', node?: SoakNode, detail?: string) => void
  /** false once the run's fault phase is over: a long fault heals early */
  active: () => boolean
}

export class Nemesis {
  readonly counts = new Map<string, number>()
  private stopped = false
  private batches = 0
  private done?: Promise<void>
  private readonly ctx: NemesisContext

  constructor (private readonly cluster: SoakCluster, private readonly h: HistoryWriter, private readonly plan: PlannedFault[],
    private readonly extra: Map<string, ExtraFault> = new Map(), private readonly healExtra: () => void = () => {}) {
    this.ctx = {
      cluster,
      h,
      note: (kind, phase, node, detail) => {
        h.add({ t: Date.now(), type: 'nemesis', phase, kind, ...(node !== undefined ? { node: node.name } : {}), ...(detail !== undefined ? { detail } : {}) })
        if (phase === 'start') this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1)
      },
      active: () => !this.stopped
    }
  }

  start (): void { this.done = this.run() }

  /** stop after the current fault heals, then heal everything */
  async stop (): Promise<void> {
    this.stopped = true
    await this.done
    this.healExtra()
    await this.cluster.healAll()
  }

  private async run (): Promise<void> {
    for (const f of this.plan) {
      if (this.stopped) return
      try {
        await this.one(f)
      } catch (err) {
        this.ctx.note(f.kind, 'info', undefined, `fault aborted: ${(err as Error).message}`)
      }
      // heal whatever a failed step left behind before the next fault
      this.healExtra()
      await this.cluster.healAll()
      await this.pause(f.gapMs)
    }
  }

  /** sleep, cut short when the fault phase ends */
  private async pause (ms: number): Promise<void> {
    const until = Date.now() + ms
    while (!this.stopped && Date.now() < until) await sleep(Math.min(100, until - Date.now()))
  }

  /** one batch of echo tasks, recorded in the history like the workload's submissions */
  private async submitBatch (x: SoakNode, n: number): Promise<void> {
    const base = NEMESIS_OP_BASE + 1000 * this.batches++
    const ops = Array.from({ length: n }, (_, k) => {
      const tag = `soak-nemesis-${base + k}`
      return { op: base + k, spec: { taskType: 'echo' as const, payload: { tag, k }, priority: 3, idempotencyKey: tag } }
    })
    const t0 = Date.now()
    for (const o of ops) this.h.add({ t: t0, type: 'invoke', op: o.op, try: 1, node: x.name, spec: o.spec })
    let error = ''
    try {
      const body = { name: `nemesis-${base}`, tasks: ops.map(o => ({ task_type: 'echo', payload: o.spec.payload, priority: 3, idempotency_key: o.spec.idempotencyKey })) }
      const r = await x.api<any>('POST', '/v1/batches', body, 15_000)
      const ids: unknown[] = r.body?.taskIds ?? []
      if (r.status === 201 && ids.length === n) {
        const t = Date.now()
        ops.forEach((o, i) => { this.h.add({ t, type: 'ok', op: o.op, try: 1, node: x.name, id: ids[i] as string }) })
        return
      }
      error = `HTTP ${r.status} ${JSON.stringify(r.body?.error ?? r.body)}`
    } catch (err) { error = (err as Error).message }
    const t = Date.now()
    for (const o of ops) this.h.add({ t, type: 'fail', op: o.op, try: 1, node: x.name, error, definite: false })
  }

  private pick (u: number, xs: SoakNode[]): SoakNode | undefined { return xs[Math.floor(u * xs.length)] }

  private async one (f: PlannedFault): Promise<void> {
    const c = this.cluster
    const ext = this.extra.get(f.kind)
    if (ext !== undefined) { await ext(f, this.ctx); return }
    const leader = await c.waitLeader(10_000)
    if (leader === undefined) { this.ctx.note(f.kind, 'info', undefined, 'no leader agreed within 10 s: fault skipped'); return }
    this.h.add({ t: Date.now(), type: 'leader', node: leader.name, peerId: leader.peerId })
    switch (f.kind) {
      case 'kill-leader':
      case 'kill-worker': {
        const x = f.kind === 'kill-leader' ? leader : this.pick(f.u, c.up().filter(y => y !== leader))
        if (x === undefined) return
        this.ctx.note(f.kind, 'start', x)
        await x.kill9()
        await this.pause(f.downMs)
        await c.restart(x)
        this.ctx.note(f.kind, 'end', x)
        return
      }
      case 'kill-new-leader': {
        this.ctx.note(f.kind, 'start', leader, 'first kill')
        await leader.kill9()
        await c.restart(leader)
        const next = await c.waitLeader(15_000)
        if (next === undefined) { this.ctx.note(f.kind, 'end', leader, 'no new leader within 15 s'); return }
        this.h.add({ t: Date.now(), type: 'leader', node: next.name, peerId: next.peerId })
        await sleep(f.earlyMs)
        this.ctx.note(f.kind, 'info', next, `second kill, ${f.earlyMs} ms after the new leader was seen`)
        await next.kill9()
        await this.pause(f.downMs)
        await c.restart(next)
        this.ctx.note(f.kind, 'end', next)
        return
      }
      case 'pause': {
        const x = f.v < 0.5 ? leader : this.pick(f.u, c.up())
        if (x === undefined) return
        this.ctx.note(f.kind, 'start', x)
        x.pause()
        await this.pause(f.downMs)
        x.resume()
        this.ctx.note(f.kind, 'end', x)
        return
      }
      case 'transfer': {
        this.ctx.note(f.kind, 'start', leader, 'SIGTERM: graceful hand-over')
        await leader.terminate()
        const next = await c.waitLeader(10_000, leader)
        this.ctx.note(f.kind, 'info', next, next === undefined ? 'no new leader within 10 s' : `new leader ${next.name}`)
        await this.pause(f.downMs)
        await c.restart(leader)
        this.ctx.note(f.kind, 'end', leader)
        return
      }
      case 'kill-leader-mid-batch': {
        const via = this.pick(f.u, c.up().filter(y => y !== leader))
        if (via === undefined) return
        const sent = this.submitBatch(via, 100)
        await sleep(Math.round(f.v * 400))
        this.ctx.note(f.kind, 'start', leader, `batch of 100 through ${via.name} in flight`)
        await leader.kill9()
        await sent
        await this.pause(f.downMs)
        await c.restart(leader)
        this.ctx.note(f.kind, 'end', leader)
        return
      }
      default:
        this.ctx.note(f.kind, 'info', undefined, 'unknown fault kind (not available on this machine): skipped')
    }
  }
}
