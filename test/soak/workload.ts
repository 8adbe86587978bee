// The soak's client. What it submits is a pure function of the seed (opSpec): echo tasks whose payload
// is unique (so a result proves which submission it answers), short sleeps, and now and then a
// priority burst (long sleeps to fill every slot, then LOW echoes, then URGENT echoes) so the priority
// check has something to look at. Which node gets a submission and when depends on the faults; every
// try is recorded. Retries reuse the op's idempotency key, so an unknown outcome is safe to retry.
import { hashSeed, mulberry32, type Rng } from '../../src/sched/rng.js'
import { sleep } from '../../scripts/lib/proc-cluster.js'
import type { SoakCluster, SoakNode } from './cluster.js'
import type { HistoryWriter, TaskSpec } from './history.js'

export interface WorkloadOptions {
  seed: number
  /** concurrent submitters */
  clients: number
  /** pause between two submissions of one client, ms (uniform in [min, max]) */
  pauseMs: [number, number]
  /** tries per submission (each to a node that is up), then the op is given up as unknown */
  maxTries: number
  submitTimeoutMs: number
  /** one op in `burstEvery` starts a priority burst (0 = never) */
  burstEvery: number
  /** slots to fill in a burst (nodes × --max-concurrent) */
  slots: number
}

/** The spec of op `n` (or of the ops of its burst): same seed, same specs. */
export function opSpecs (seed: number, n: number, o: Pick<WorkloadOptions, 'burstEvery' | 'slots'>): TaskSpec[] {
  const r = mulberry32(hashSeed(`${seed}:op:${n}`))
  const key = (k: number): string => `soak-${seed}-${n}-${k}`
  if (o.burstEvery > 0 && n > 0 && n % o.burstEvery === 0) {
    const specs: TaskSpec[] = []
    // fill every slot with a 1.5-2.5 s sleep, so what follows waits (in the leader's queue or a worker's)
    for (let k = 0; k < o.slots; k++) specs.push({ taskType: 'sleep', payload: { duration: 1.5 + r(), tag: key(k) }, priority: 3, idempotencyKey: key(k) })
    const low = 3 + Math.floor(r() * 4)
    for (let k = 0; k < low; k++) specs.push(echo(key(o.slots + k), 4, r))
    for (let k = 0; k < 2; k++) specs.push(echo(key(o.slots + low + k), 1, r))
    return specs
  }
  if (r() < 0.25) return [{ taskType: 'sleep', payload: { duration: round2(0.05 + r() * 0.6), tag: key(0) }, priority: 1 + Math.floor(r() * 5), idempotencyKey: key(0) }]
  return [echo(key(0), 1 + Math.floor(r() * 5), r)]
}

function echo (tag: string, priority: number, r: Rng): TaskSpec {
  // a unique tag plus random filler: the result must be this very object
  const pad = Math.floor(r() * 0xffffff).toString(36).repeat(1 + Math.floor(r() * 8))
  return { taskType: 'echo', payload: { tag, pad, n: Math.floor(r() * 1e9) }, priority, idempotencyKey: tag }
}

const round2 = (x: number): number => Math.round(x * 100) / 100

export interface Acked { op: number, id: string, spec: TaskSpec, ackAt: number }

export class Workload {
  private next = 0
  private stopped = false
  private readonly loops: Array<Promise<void>> = []
  readonly acked = new Map<number, Acked>()
  readonly specs = new Map<number, TaskSpec>()
  private readonly rng: Rng

  constructor (private readonly cluster: SoakCluster, private readonly h: HistoryWriter, private readonly o: WorkloadOptions) {
    this.rng = mulberry32(hashSeed(`${o.seed}:client`))
  }

  start (): void {
    for (let c = 0; c < this.o.clients; c++) this.loops.push(this.loop(c))
    this.loops.push(this.reader())
  }

  async stop (): Promise<void> {
    this.stopped = true
    await Promise.all(this.loops)
  }

  private async loop (c: number): Promise<void> {
    const r = mulberry32(hashSeed(`${this.o.seed}:client:${c}`))
    while (!this.stopped) {
      const n = this.next++
      const specs = opSpecs(this.o.seed, n, this.o)
      // a burst goes out back to back, in order: the sleeps, then LOW, then URGENT
      for (let k = 0; k < specs.length && !this.stopped; k++) await this.submit(n * 1000 + k, specs[k]!, r)
      const [lo, hi] = this.o.pauseMs
      await sleep(lo + r() * (hi - lo))
    }
  }

  private async submit (op: number, spec: TaskSpec, r: Rng): Promise<void> {
    this.specs.set(op, spec)
    for (let tr = 1; tr <= this.o.maxTries; tr++) {
      const up = this.cluster.up()
      if (up.length === 0) { await sleep(200); continue }
      const node = up[Math.floor(r() * up.length)]!
      this.h.add({ t: Date.now(), type: 'invoke', op, try: tr, node: node.name, spec })
      const body = { task_type: spec.taskType, payload: spec.payload, priority: spec.priority, idempotency_key: spec.idempotencyKey }
      try {
        const res = await node.api<{ id?: string, error?: { type: string, message: string } }>('POST', '/v1/tasks', body, this.o.submitTimeoutMs)
        if (res.status === 201 && typeof res.body?.id === 'string') {
          const t = Date.now()
          this.h.add({ t, type: 'ok', op, try: tr, node: node.name, id: res.body.id })
          if (!this.acked.has(op)) this.acked.set(op, { op, id: res.body.id, spec, ackAt: t })
          return
        }
        // 4xx other than 409/429 means the request itself is wrong: a definite refusal, a workload bug
        const definite = res.status >= 400 && res.status < 500 && res.status !== 409 && res.status !== 429
        this.h.add({ t: Date.now(), type: 'fail', op, try: tr, node: node.name, error: `HTTP ${res.status} ${JSON.stringify(res.body?.error ?? res.body)}`, definite })
        if (definite) return
      } catch (err) {
        this.h.add({ t: Date.now(), type: 'fail', op, try: tr, node: node.name, error: (err as Error).message, definite: false })
      }
      await sleep(100 + 200 * tr)
    }
  }

  /** reads the status of a random acknowledged task on a random node, a few times a second */
  private async reader (): Promise<void> {
    while (!this.stopped) {
      await sleep(250)
      const ops = [...this.acked.values()]
      const up = this.cluster.up()
      if (ops.length === 0 || up.length === 0) continue
      const a = ops[Math.floor(this.rng() * ops.length)]!
      const node: SoakNode = up[Math.floor(this.rng() * up.length)]!
      try {
        const res = await node.api<any>('GET', `/v1/tasks/${a.id}`, undefined, 2000)
        if (res.status === 200) this.h.add({ t: Date.now(), type: 'read', id: a.id, node: node.name, status: res.body.status, deviceId: res.body.deviceId, replacedBy: res.body.replacedBy })
      } catch { /* a node that died under us: nothing learned */ }
    }
  }
}
