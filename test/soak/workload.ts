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

/**
 * The submissions of step `n`: groups of specs, each group one request (one spec: POST /v1/tasks;
 * more: POST /v1/batches, atomic). Same seed, same specs.
 */
export function opSpecs (seed: number, n: number, o: Pick<WorkloadOptions, 'burstEvery' | 'slots'>): TaskSpec[][] {
  const r = mulberry32(hashSeed(`${seed}:op:${n}`))
  const key = (k: number): string => `soak-${seed}-${n}-${k}`
  if (o.burstEvery > 0 && n > 0 && n % o.burstEvery === 0) {
    // a priority burst: 2.5-3.5 s sleeps for every slot plus LOW echoes in one batch (the LOW ones wait,
    // in the leader's queue or prefetched by a worker), then, a moment later, URGENT echoes
    const first: TaskSpec[] = []
    for (let k = 0; k < o.slots; k++) first.push({ taskType: 'sleep', payload: { duration: round2(2.5 + r()), tag: key(k) }, priority: 3, idempotencyKey: key(k) })
    const low = 4 + Math.floor(r() * 6)
    for (let k = 0; k < low; k++) first.push(echo(key(o.slots + k), 4, r))
    const urgent = [echo(key(o.slots + low), 1, r), echo(key(o.slots + low + 1), 1, r)]
    return [first, urgent]
  }
  const sw = swarm(seed)
  if (r() < sw.batchShare) {
    // a batch of echoes and short sleeps: many assignments in flight at a fault
    const size = 3 + Math.floor(r() * (sw.batchMax - 2))
    const b: TaskSpec[] = []
    for (let k = 0; k < size; k++) b.push(r() < 0.8 ? echo(key(k), 1 + Math.floor(r() * 5), r) : sleepSpec(key(k), r))
    return [b]
  }
  const one = r() < 0.25 ? sleepSpec(key(0), r) : echo(key(0), 1 + Math.floor(r() * 5), r)
  // A quarter of single submissions go without an idempotency key (by a hash of the op, so the rest
  // of the seed's choices replay as before): only those may run before their submission commits
  // (LeaderLoop.placeSubmitted). The client tries them once: a retry would be a second task.
  if ((hashSeed(`${seed}:keyless:${n}`) & 3) === 0) delete one.idempotencyKey
  return [[one]]
}

/**
 * Swarm testing (as TigerBeetle's VOPR): each seed picks its own workload shape. Most seeds submit
 * small batches now and then; some submit large ones (up to 150 tasks), which puts many assignments
 * in flight (dispatched while they commit) when the nemesis kills a leader.
 */
export function swarm (seed: number): { batchShare: number, batchMax: number } {
  const r = mulberry32(hashSeed(`${seed}:swarm`))
  const x = r()
  if (x < 0.5) return { batchShare: 0.15, batchMax: 12 }
  if (x < 0.8) return { batchShare: 0.2, batchMax: 60 }
  return { batchShare: 0.1, batchMax: 150 }
}

function sleepSpec (tag: string, r: Rng): TaskSpec {
  return { taskType: 'sleep', payload: { duration: round2(0.05 + r() * 0.6), tag }, priority: 1 + Math.floor(r() * 5), idempotencyKey: tag }
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
      const groups = opSpecs(this.o.seed, n, this.o)
      let k = 0
      for (let g = 0; g < groups.length && !this.stopped; g++) {
        if (g > 0) await sleep(300)
        const ops = groups[g]!.map(spec => ({ op: n * 1000 + k++, spec }))
        await this.submit(ops, r)
      }
      const [lo, hi] = this.o.pauseMs
      await sleep(lo + r() * (hi - lo))
    }
  }

  /** one request (a task or a batch), retried on other nodes with the same idempotency keys (a keyless one is tried once) */
  private async submit (ops: Array<{ op: number, spec: TaskSpec }>, r: Rng): Promise<void> {
    const body = (s: TaskSpec): Record<string, unknown> => ({ task_type: s.taskType, payload: s.payload, priority: s.priority, idempotency_key: s.idempotencyKey })
    const batch = ops.length > 1
    for (const { op, spec } of ops) this.specs.set(op, spec)
    for (let tr = 1; tr <= this.o.maxTries; tr++) {
      const up = this.cluster.up()
      if (up.length === 0) { await sleep(200); continue }
      const node = up[Math.floor(r() * up.length)]!
      const t0 = Date.now()
      for (const { op, spec } of ops) this.h.add({ t: t0, type: 'invoke', op, try: tr, node: node.name, spec })
      let error: string
      let definite = false
      // Half the single submissions go over the node's submission stream (POST /v1/tasks/stream), by
      // a hash of the op, so the rest of the seed's choices replay as before.
      const stream = !batch && (hashSeed(`${this.o.seed}:stream:${ops[0]!.op}`) & 1) === 1 ? node.submissions() : undefined
      if (stream !== undefined) {
        const { op, spec } = ops[0]!
        try {
          const id = await (await stream).submit(body(spec), { timeoutMs: this.o.submitTimeoutMs })
          const t = Date.now()
          this.h.add({ t, type: 'ok', op, try: tr, node: node.name, id, via: 'stream' })
          if (!this.acked.has(op)) this.acked.set(op, { op, id, spec, ackAt: t })
          return
        } catch (err) {
          const status = (err as { status?: unknown }).status
          definite = typeof status === 'number' && status >= 400 && status < 500 && status !== 409 && status !== 429
          error = `stream: ${(err as Error).message}`
          if (status === 0 || status === undefined) node.dropSubmissions()
        }
        this.h.add({ t: Date.now(), type: 'fail', op, try: tr, node: node.name, error, definite })
        if (definite || spec.idempotencyKey === undefined) return
        await sleep(100 + 200 * tr)
        continue
      }
      try {
        const res = batch
          ? await node.api<any>('POST', '/v1/batches', { name: `soak-${ops[0]!.op}`, tasks: ops.map(o => body(o.spec)) }, this.o.submitTimeoutMs)
          : await node.api<any>('POST', '/v1/tasks', body(ops[0]!.spec), this.o.submitTimeoutMs)
        const ids: unknown[] = batch ? (res.body?.taskIds ?? []) : [res.body?.id]
        if (res.status === 201 && ids.length === ops.length && ids.every(x => typeof x === 'string')) {
          const t = Date.now()
          ops.forEach(({ op, spec }, i) => {
            const id = ids[i] as string
            this.h.add({ t, type: 'ok', op, try: tr, node: node.name, id })
            if (!this.acked.has(op)) this.acked.set(op, { op, id, spec, ackAt: t })
          })
          return
        }
        // 4xx other than 409/429 means the request itself is wrong: a definite refusal, a workload bug
        definite = res.status >= 400 && res.status < 500 && res.status !== 409 && res.status !== 429
        error = `HTTP ${res.status} ${JSON.stringify(res.body?.error ?? res.body)}`
      } catch (err) {
        error = (err as Error).message
      }
      const t = Date.now()
      for (const { op } of ops) this.h.add({ t, type: 'fail', op, try: tr, node: node.name, error, definite })
      if (definite || ops.some(o => o.spec.idempotencyKey === undefined)) return
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
