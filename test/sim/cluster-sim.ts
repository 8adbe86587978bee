// The seeded simulation of the whole cluster layer: N ClusterNodes (production RaftDriver, core,
// state machine, leader loop, worker, exec protocol, client API; see cluster-node.ts) on one
// SimScheduler, over one SimNetwork that carries Raft, exec and client requests and bids alike, with
// SimDisk's crash model. One seed draws the cluster (size, slots, timings, the executor's outcomes)
// and the faults (loss, duplication, delay, cuts and partitions, crashes at any instant, lost
// unsynced writes), then runs a random client workload (single tasks and batches submitted through
// NodeScheduler on random nodes, as the HTTP API does) and records what each client was told.
//
// Then it heals everything, runs until the cluster is quiescent (every task terminal on every node)
// within a bound, and checks: the soak's task invariants (test/soak/checker.ts: every acknowledged
// task exactly one terminal outcome, no attempt completed twice, no loss, no phantom, no divergence),
// no task left non-terminal, and every node's replicated state identical. A failure names its seed:
// `SEED=n npx tsx scripts/sim-cluster.ts --trace` replays it.
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import { encodeValue } from '../../src/protocol/codec.js'
import { monotonicTaskIds } from '../../src/sched/ids.js'
import { Task } from '../../src/sched/task.js'
import type { TaskRecord } from '../../src/sched/commands.js'
import { TERMINAL_STATUSES } from '../../src/sched/types.js'
import type { NodeId } from '../../src/protocol/raft/types.js'
import { check, type CheckReport, type TaskRecord as SoakRecord } from '../soak/checker.js'
import type { HistoryEvent, TaskSpec } from '../soak/history.js'
import { Checker, SimViolation } from './checker.js'
import { ClusterNode, type ClusterMsg, type ClusterNodeParams, type ClusterProcess } from './cluster-node.js'
import { hashStep } from './node.js'
import { SimNetwork } from './network.js'
import { mulberry32, pick, randInt, type Rng } from './rng.js'
import { SimScheduler } from './sim-scheduler.js'
import { SimFailure } from './simulator.js'
import { randomCut } from './swarm-moves.js'

export interface ClusterSimParams {
  nodes: number
  node: ClusterNodeParams
  drop: number
  duplicate: number
  /** delivery delay in steps, uniform in [1, maxDelay] */
  maxDelay: number
  reorder: boolean
  /** per step */
  crashRate: number
  restartRate: number
  partitionRate: number
  healRate: number
  submitRate: number
  /** share of submissions that are batches, and their largest size */
  batchShare: number
  batchMax: number
  fsyncMaxMs: number
  keepUnsyncedRate: number
}

export interface ClusterSimOptions {
  /** steps of faults and workload (one step = one Raft tick of simulated time) */
  steps: number
  /** after the heal, the cluster must be quiescent within this many steps */
  quiesceSteps?: number
  trace?: (s: string) => void
  /** test-only: tamper with every process as it starts (the sabotage checks prove the checker can fail) */
  sabotage?: (proc: ClusterProcess, node: ClusterNode) => void
}

export interface ClusterSimResult {
  seed: number
  steps: number
  quiesceSteps: number
  simulatedMs: number
  params: ClusterSimParams
  ops: number
  acknowledged: number
  tasks: number
  completed: number
  failed: number
  clones: number
  attempts: number
  executions: number
  crashes: number
  partitions: number
  leaders: number
  messages: number
}

/** Swarm testing: each seed its own cluster and fault rates, some calm, some storms. */
export function drawClusterParams (rng: Rng): ClusterSimParams {
  const maybe = (p: number, v: () => number): number => rng() < p ? v() : 0
  const tickMs = 100
  return {
    nodes: randInt(rng, 3, 6),
    node: {
      tickMs,
      electionTicks: 10,
      deviceTimeoutMs: pick(rng, [1500, 3000, 3000]),
      snapshotEntries: pick(rng, [20, 100, 10_000]),
      writeDeadlineMs: pick(rng, [4000, 30_000]),
      slots: randInt(rng, 1, 5),
      exec: {
        maxExecMs: pick(rng, [0, 50, 300, 2000]),
        failRate: maybe(0.5, () => rng() * 0.3),
        fatalRate: maybe(0.3, () => rng() * 0.1),
        hangRate: maybe(0.3, () => rng() * 0.05)
      },
      bidIntervalMs: 1000
    },
    drop: maybe(0.5, () => rng() * 0.1),
    duplicate: maybe(0.3, () => rng() * 0.05),
    maxDelay: randInt(rng, 1, 4),
    reorder: rng() < 0.3,
    crashRate: maybe(0.7, () => rng() * 0.02),
    restartRate: 0.02 + rng() * 0.1,
    partitionRate: maybe(0.6, () => rng() * 0.02),
    healRate: 0.02 + rng() * 0.1,
    submitRate: 0.05 + rng() * 0.4,
    batchShare: rng() * 0.3,
    batchMax: randInt(rng, 2, 40),
    fsyncMaxMs: pick(rng, [0, 2, 10, 40]),
    keepUnsyncedRate: rng()
  }
}

const DEFAULT_QUIESCE_STEPS = 3000
/** how often (steps) the quiescence test runs after the heal */
const QUIESCE_CHECK_EVERY = 10

export class ClusterSimulation {
  readonly rng: Rng
  readonly params: ClusterSimParams
  readonly sched = new SimScheduler()
  readonly net: SimNetwork<ClusterMsg>
  readonly checker = new Checker()
  readonly nodes: ClusterNode[] = []
  readonly events: HistoryEvent[] = []
  step = 0
  private violation: Error | undefined
  private faultsOn = true
  private ops = 0
  private acked = 0
  private crashes = 0
  private partitions = 0
  /** op → the task id its client was told, and whether its chain was seen terminal */
  private readonly ackedIds = new Map<number, string>()
  private readonly finalSeen = new Set<number>()

  constructor (readonly seed: number, private readonly opts: ClusterSimOptions) {
    this.rng = mulberry32(seed)
    this.params = drawClusterParams(this.rng)
    const p = this.params
    // ids as a real node makes them, from simulated time and the seed (a global: one run at a time)
    Task.idGenerator = monotonicTaskIds(() => this.sched.nowMs(), mulberry32(seed ^ 0x5eed))
    this.net = new SimNetwork<ClusterMsg>(this.rng, { drop: p.drop, duplicate: p.duplicate, maxDelay: p.maxDelay, reorder: p.reorder })
    const ids: NodeId[] = []
    for (let i = 1; i <= p.nodes; i++) ids.push(`n${i}`)
    const env = {
      sched: this.sched,
      params: p.node,
      checker: this.checker,
      peers: () => ids,
      isUp: (id: NodeId) => this.byId(id)?.up === true,
      send: (m: ClusterMsg) => { this.net.send(m) },
      fsyncMs: () => randInt(this.rng, 0, p.fsyncMaxMs + 1),
      stallMs: () => 0,
      fail: (err: Error) => { this.violation ??= err },
      trace: (s: string) => { this.log(s) }
    }
    for (let i = 0; i < ids.length; i++) {
      const st = new MemoryStorage({ conf: { voters: ids, learners: [] }, bootstrapIndex: 1 })
      const n = new ClusterNode(ids[i]!, st, mulberry32(seed * 31 + i + 1), env)
      this.nodes.push(n)
      opts.sabotage?.(n.proc, n)
    }
    this.events.push({ t: this.sched.nowMs(), type: 'nemesis', phase: 'start', kind: 'swarm' })
  }

  private byId (id: NodeId): ClusterNode | undefined { return this.nodes.find(n => n.id === id) }
  private log (s: string): void { this.opts.trace?.(`[${this.step} ${this.sched.elapsedMs}ms] ${s}`) }
  private rethrow (): void { if (this.violation !== undefined) throw this.violation }
  up (): ClusterNode[] { return this.nodes.filter(n => n.up) }

  async runStep (faults: boolean): Promise<void> {
    this.step++
    this.faultsOn = faults
    if (faults) this.injectFaults()
    this.net.now++
    this.deliver((this.step - 1) * this.params.node.tickMs)
    if (faults) this.clientActivity()
    await this.sched.advanceTo(this.step * this.params.node.tickMs)
    this.rethrow()
  }

  /** this step's messages, each at its own ms inside the step (order kept: FIFO links stay FIFO) */
  private deliver (start: number): void {
    const tick = this.params.node.tickMs
    const due = this.net.takeDue()
    const offsets = due.map(() => randInt(this.rng, 0, tick)).sort((a, b) => a - b)
    due.forEach((m, i) => {
      this.sched.timeout(() => {
        const to = this.byId(m.to)
        if (to === undefined || !to.accepts(m)) return
        to.proc.deliver(m)
      }, start + offsets[i]! - this.sched.elapsedMs)
    })
  }

  private injectFaults (): void {
    const p = this.params
    const rng = this.rng
    const up = this.up()
    if (up.length > 0 && rng() < p.crashRate) {
      const n = pick(rng, up)
      this.crashes++
      this.sched.timeout(() => { if (n.up) { this.log(`crash ${n.id} (${n.proc.disk.unsyncedWrites} unsynced writes)`); n.crash() } }, randInt(rng, 0, p.node.tickMs))
    }
    for (const n of this.nodes) if (!n.up && rng() < p.restartRate) this.restart(n)
    if (rng() < p.partitionRate) {
      this.partitions++
      const what = randomCut(rng, this.nodes.map(n => n.id), this.net)
      if (what !== undefined) this.log(what)
    }
    if (this.net.blockedLinks() > 0 && rng() < p.healRate) { this.net.heal(); this.log('heal') }
  }

  private restart (n: ClusterNode): void {
    const unsynced = n.proc.disk.unsyncedWrites
    const keep = this.rng() < this.params.keepUnsyncedRate ? unsynced : randInt(this.rng, 0, unsynced + 1)
    n.restart(keep, this.sched.elapsedMs)
    this.opts.sabotage?.(n.proc, n)
    this.log(`restart ${n.id} (kept ${keep} of ${unsynced} unsynced writes)`)
  }

  // ---- client workload ------------------------------------------------------------------------

  private clientActivity (): void {
    const p = this.params
    if (this.rng() >= p.submitRate) return
    const size = this.rng() < p.batchShare ? randInt(this.rng, 2, p.batchMax + 1) : 1
    const ops: Array<{ op: number, spec: TaskSpec }> = []
    for (let i = 0; i < size; i++) {
      const op = ++this.ops
      ops.push({ op, spec: { taskType: 'echo', payload: { tag: `op${op}`, n: randInt(this.rng, 0, 1000) }, priority: randInt(this.rng, 1, 6), idempotencyKey: `k${op}` } })
    }
    const timeoutS = pick(this.rng, [1, 2, 5])
    const maxRetries = randInt(this.rng, 0, 4)
    void this.submit(ops, timeoutS, maxRetries, 1)
  }

  /** one request through a random live node's NodeScheduler; retried once elsewhere with the same keys */
  private async submit (ops: Array<{ op: number, spec: TaskSpec }>, timeoutS: number, maxRetries: number, tr: number): Promise<void> {
    const up = this.up()
    if (up.length === 0) return
    const node = pick(this.rng, up)
    const t0 = this.sched.nowMs()
    for (const { op, spec } of ops) this.events.push({ t: t0, type: 'invoke', op, try: tr, node: node.id, spec })
    const body = (s: TaskSpec): Record<string, unknown> => ({
      task_type: s.taskType, payload: s.payload, priority: s.priority, idempotency_key: s.idempotencyKey,
      requirements: { timeout_seconds: timeoutS, max_retries: maxRetries }
    })
    try {
      const ids = ops.length === 1
        ? [await node.proc.client.submitTask(body(ops[0]!.spec), { idempotencyKey: ops[0]!.spec.idempotencyKey })]
        : (await node.proc.client.submitBatch({ name: `b${ops[0]!.op}`, tasks: ops.map(o => body(o.spec)) })).taskIds
      const t = this.sched.nowMs()
      ops.forEach(({ op }, i) => {
        const id = ids[i]!
        this.events.push({ t, type: 'ok', op, try: tr, node: node.id, id })
        if (!this.ackedIds.has(op)) this.acked++
        this.ackedIds.set(op, id)
      })
      this.log(`acknowledged ${ops.map(o => `op${o.op}=${ids[ops.indexOf(o)]!}`).join(' ')} via ${node.id}`)
    } catch (err) {
      const e = err as { type?: string, message?: string }
      const definite = e.type !== undefined && !['no_leader', 'timeout', 'network_error', 'unavailable'].includes(e.type)
      for (const { op } of ops) this.events.push({ t: this.sched.nowMs(), type: 'fail', op, try: tr, node: node.id, error: `${e.type ?? ''} ${e.message ?? String(err)}`, definite })
      if (definite) this.violation ??= new SimViolation('client', `a submission was refused definitely: ${e.type ?? ''} ${e.message ?? String(err)}`)
      if (tr < 2 && this.faultsOn) await this.submit(ops, timeoutS, maxRetries, tr + 1)
    }
  }

  // ---- heal, quiescence, checks ---------------------------------------------------------------

  /** Heal everything, then run until every task is terminal on every node (bounded). */
  async quiesce (bound: number): Promise<number> {
    this.net.heal()
    this.net.rates = { drop: 0, duplicate: 0, maxDelay: this.params.maxDelay, reorder: this.params.reorder }
    for (const n of this.nodes) if (!n.up) this.restart(n)
    this.log('final heal')
    this.events.push({ t: this.sched.nowMs(), type: 'heal', phase: 'all-healed' })
    for (let t = 1; t <= bound; t++) {
      await this.runStep(false)
      if (t % QUIESCE_CHECK_EVERY === 0 && this.quiescent()) return t
    }
    return bound
  }

  /** every task terminal on every node, every acknowledged one seen terminal, all states equal */
  private quiescent (): boolean {
    let leaders = 0
    for (const n of this.nodes) if (n.proc.driver.isLeader) leaders++
    if (leaders !== 1) return false
    const now = this.sched.nowMs()
    let done = true
    for (const n of this.nodes) {
      const st = n.proc.core.state
      for (const rec of st.listTasks()) if (!TERMINAL_STATUSES.has(rec.status)) { done = false; break }
      if (!done) return false
    }
    const ref = this.nodes[0]!.proc.core.state
    for (const [op, id] of this.ackedIds) {
      if (this.finalSeen.has(op)) continue
      let rec = ref.getTask(id)
      for (let i = 0; i < 20 && rec?.replacedBy !== undefined; i++) rec = ref.getTask(rec.replacedBy)
      if (rec === undefined || !TERMINAL_STATUSES.has(rec.status)) return false
      this.finalSeen.add(op)
      this.events.push({ t: now, type: 'final', op, id, lastId: rec.id, status: rec.status, node: this.nodes[0]!.id })
    }
    const h = this.nodes.map(n => stateHash(n.proc.core.state.snapshot()))
    return h.every(x => x === h[0])
  }

  /** the invariants, on the final state of every node; throws a SimViolation listing what failed */
  checkFinal (quiesceBound: number): CheckReport {
    const finals = new Map<string, SoakRecord[]>()
    for (const n of this.nodes) finals.set(n.id, n.proc.core.state.listTasks() as unknown as SoakRecord[])
    const report = check({ events: this.events, finals, metrics: new Map(), boundMs: quiesceBound * this.params.node.tickMs })
    const problems = report.violations.map(v => `${v.kind}: ${v.message}`)
    for (const n of this.nodes) {
      for (const rec of n.proc.core.state.listTasks()) {
        if (!TERMINAL_STATUSES.has(rec.status) && problems.length < 50) problems.push(`stuck: ${n.id} holds ${rec.id} '${rec.status}' after the heal and ${quiesceBound} quiet steps ${describe(rec)}`)
      }
    }
    const hashes = this.nodes.map(n => stateHash(n.proc.core.state.snapshot()))
    if (!hashes.every(x => x === hashes[0])) problems.push(`divergence: the nodes' replicated states differ: ${this.nodes.map((n, i) => `${n.id}=${hashes[i]!.toString(16)} applied ${n.proc.driver.appliedIndex}`).join(' ')}`)
    if (problems.length > 0) throw new SimViolation('cluster', `${problems.length} problem(s):\n  ${problems.slice(0, 20).join('\n  ')}`)
    return report
  }

  result (quiesceSteps: number, report: CheckReport): ClusterSimResult {
    let executions = 0
    for (const n of this.nodes) executions += n.proc.executor.executed
    return {
      seed: this.seed, steps: this.step, quiesceSteps, simulatedMs: this.sched.elapsedMs, params: this.params,
      ops: this.ops, acknowledged: this.acked, tasks: report.stats.tasks, completed: report.stats.completed, failed: report.stats.failed,
      clones: report.stats.clones, attempts: report.stats.attempts, executions,
      crashes: this.crashes, partitions: this.partitions, leaders: this.checker.leadersElected, messages: this.net.sent
    }
  }

  stop (): void { for (const n of this.nodes) n.crash() }
}

function describe (rec: TaskRecord): string {
  return JSON.stringify({ attempts: rec.attempts.map(a => [a.attempt, a.deviceId, a.status]), retryAt: (rec as { retryAt?: number }).retryAt })
}

/** one number for a node's whole replicated state (its snapshot, tasks in id order) */
export function stateHash (snap: ReturnType<ClusterProcess['core']['state']['snapshot']>): number {
  const canon = { ...snap, tasks: [...snap.tasks].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) }
  return hashStep(0, encodeValue(canon))
}

/** Run one seed; rejects with SimFailure (seed and replay command) on any violation. */
export async function runClusterSeed (seed: number, opts: ClusterSimOptions): Promise<ClusterSimResult> {
  const sim = new ClusterSimulation(seed, opts)
  const bound = opts.quiesceSteps ?? DEFAULT_QUIESCE_STEPS
  try {
    for (let i = 0; i < opts.steps; i++) await sim.runStep(true)
    const q = await sim.quiesce(bound)
    const report = sim.checkFinal(bound)
    return sim.result(q, report)
  } catch (err) {
    throw new SimFailure(seed, sim.step, err as Error, `npx tsx scripts/sim-cluster.ts --steps ${opts.steps} --trace`)
  } finally {
    sim.stop()
  }
}
