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
import { TERMINAL_STATUSES, type TaskData } from '../../src/sched/types.js'
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
  /** per step: cancel a random acknowledged task through a random node */
  cancelRate: number
  /** per step: submit a workflow */
  workflowRate: number
  /**
   * share of single-task submissions sent without an idempotency key (not retried by the client: a
   * retry would be a second task): only those may run before their submission commits
   * (LeaderLoop.placeSubmitted), so the simulator must send some
   */
  keylessShare: number
  /**
   * per step: send an acknowledged single keyed task again with its key and a new task id, as a
   * client does whose answer was lost: the cluster must answer with the first id and run nothing
   */
  resubmitRate: number
  /** share of submissions that are batches, and their largest size */
  batchShare: number
  batchMax: number
  fsyncMaxMs: number
  /** chance per fsync that the disk stalls for up to stallMaxMs (only before the heal) */
  stallRate: number
  stallMaxMs: number
  keepUnsyncedRate: number
  /** chance that a message arrives in the same event-loop turn as the one before it (a TCP read
   * carrying several frames, or several sockets ready in one poll): per-turn bookkeeping sees both */
  bunch: number
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
  /** attempts the nodes' last processes started (earlier incarnations' are not counted) */
  executions: number
  crashes: number
  partitions: number
  cancels: number
  workflows: number
  /** pairs of tasks the soak's priority check judged (none when clocks are skewed) */
  priorityPairsJudged: number
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
      bidIntervalMs: 1000,
      maxClockSkewMs: 0, // drawn from its own stream (see the constructor)
      snapshotSliceItems: 1000, // likewise
      snapshotSliceGapMs: 0
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
    cancelRate: 0, // drawn from its own stream (see the constructor), so adding it changed no other seed
    workflowRate: 0, // likewise
    keylessShare: 0, // likewise
    resubmitRate: 0, // likewise
    batchShare: rng() * 0.3,
    batchMax: randInt(rng, 2, 40),
    fsyncMaxMs: pick(rng, [0, 2, 10, 40]),
    stallRate: 0, // drawn from its own stream (see the constructor)
    stallMaxMs: 0,
    keepUnsyncedRate: rng(),
    bunch: 0 // drawn from its own stream (see the constructor)
  }
}

/**
 * After the heal the cluster works off its backlog (a seed may have queued far more than its slots
 * run in the fault phase); it must keep making progress — a task reaching a terminal state at
 * least every STALL_STEPS (longer than any legitimate wait: a retry's backoff, a timeout and its
 * grace, deviceTimeout) — and be quiescent within the hard bound.
 */
const DEFAULT_QUIESCE_STEPS = 20_000
const STALL_STEPS = 1200
/**
 * Steps one slot needs per task, beyond its run time, when the cluster is calm: an assignment's
 * round, the dispatch, the result's round, each hop up to maxDelay ticks. Measured on seeds 4002
 * (1,946 tasks left at the heal, 3 nodes x 1 slot, ~17 steps a task) and 4007 (4,320 left, 5 x 1,
 * maxExec 2 s: ~32 steps a task with ~10 of running).
 */
const STEPS_PER_TASK_OVERHEAD = 20

/**
 * The hard bound after the heal: the base, plus twice the steps the backlog needs at the cluster's
 * calm pace. A fixed bound failed seeds that had merely queued more than their slots could run
 * (4007, 4018: quiescent at 27,520 and 23,770 steps, progressing all along); twice the calm pace
 * still fails a drain that crawls (a scheduling bug that leaves slots idle), and the stall check
 * catches one that stops.
 */
export function quiesceBound (base: number, backlog: number, p: ClusterSimParams): number {
  const perTask = STEPS_PER_TASK_OVERHEAD + Math.ceil(p.node.exec.maxExecMs / p.node.tickMs)
  return base + 2 * Math.ceil(backlog * perTask / (p.nodes * p.node.slots))
}
/** how often (steps) the quiescence test runs after the heal */
const QUIESCE_CHECK_EVERY = 10

export class ClusterSimulation {
  readonly rng: Rng
  /** the user cancels' own stream, and the workflows' */
  private readonly cancelRng: Rng
  private readonly workflowRng: Rng
  private readonly keylessRng: Rng
  private readonly resubmitRng: Rng
  /** which messages share a turn (its own stream: seeds without bunching replay as before) */
  private readonly bunchRng: Rng
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
  private cancels = 0
  private workflows = 0
  /** op → the task id its client was told, and whether its chain was seen terminal */
  private readonly ackedIds = new Map<number, string>()
  /** every task id some executor ran (the last run's node and the op's tag): see checkFinal */
  private readonly executedTasks = new Map<string, { node: NodeId, tag: string }>()
  /** the spec of every op, by its tag (a keyless one may run without being accepted: see checkFinal) */
  private readonly specsByTag = new Map<string, TaskSpec>()
  private readonly finalSeen = new Set<number>()
  private healedAtMs = 0
  private healStep = 0
  /** why the cluster was not quiescent at the end of quiesce(), if it was not */
  private notQuiet: string | undefined
  /** the process-wide id generator this run replaced (put back by stop) */
  private readonly idGenerator = Task.idGenerator

  constructor (readonly seed: number, private readonly opts: ClusterSimOptions) {
    this.rng = mulberry32(seed)
    this.params = drawClusterParams(this.rng)
    this.cancelRng = mulberry32(seed ^ 0xca9ce1)
    this.workflowRng = mulberry32(seed ^ 0x3f10)
    if (this.workflowRng() < 0.4) this.params.workflowRate = this.workflowRng() * 0.05
    if (this.cancelRng() < 0.3) this.params.cancelRate = this.cancelRng() * 0.05
    // later additions draw from their own streams, so they change no earlier seed's other choices
    const extra = mulberry32(seed ^ 0x51de)
    if (extra() < 0.3) this.params.node.maxClockSkewMs = pick(extra, [50, 500, 2000])
    if (extra() < 0.3) { this.params.stallRate = extra() * 0.01; this.params.stallMaxMs = pick(extra, [200, 1000, 5000]) }
    // snapshots encoded in slices of a few records, spread over simulated time, so entries committed
    // meanwhile are held, and leader snapshots, restarts and stops land in the middle of one
    const slices = mulberry32(seed ^ 0x5a1c)
    // (at least ~330 records a simulated second: one record every 30 ms, as seed 30003 drew, made a
    // snapshot of its ~3,000 records take 90 s, during which its leader placed nothing — a device
    // ~600 times slower than a phone, which the liveness bound rightly failed)
    if (slices() < 0.5) {
      const items = this.params.node.snapshotSliceItems = pick(slices, [1, 3, 10])
      this.params.node.snapshotSliceGapMs = Math.min(pick(slices, [0, 1, 5, 30]), 3 * items)
    }
    // messages in bursts: CI's soak found the leader placing a submission twice when a forward and
    // its resend reached it in one TCP read, where every message here had its own instant
    this.bunchRng = mulberry32(seed ^ 0xb0c4)
    if (this.bunchRng() < 0.5) this.params.bunch = this.bunchRng() * 0.7
    this.keylessRng = mulberry32(seed ^ 0x6e4b)
    if (this.keylessRng() < 0.6) this.params.keylessShare = this.keylessRng()
    this.resubmitRng = mulberry32(seed ^ 0x2e5b)
    if (this.resubmitRng() < 0.5) this.params.resubmitRate = this.resubmitRng() * 0.05
    const skews = this.params.node.maxClockSkewMs === 0 ? [] : Array.from({ length: this.params.nodes }, () => randInt(extra, -this.params.node.maxClockSkewMs, this.params.node.maxClockSkewMs + 1))
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
      stallMs: () => (this.faultsOn && p.stallRate > 0 && this.rng() < p.stallRate ? randInt(this.rng, 1, p.stallMaxMs + 1) : 0),
      fail: (err: Error) => { this.violation ??= err },
      trace: (s: string) => { this.log(s) },
      traceTasks: opts.trace !== undefined ? ids[0] : undefined,
      executed: (node: NodeId, task: TaskData) => { this.executedTasks.set(task.id, { node, tag: String((task.payload as { tag?: unknown } | null)?.tag) }) }
    }
    for (let i = 0; i < ids.length; i++) {
      const st = new MemoryStorage({ conf: { voters: ids, learners: [] }, bootstrapIndex: 1 })
      const n = new ClusterNode(ids[i]!, st, mulberry32(seed * 31 + i + 1), env, skews[i] ?? 0)
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
    this.checkReservations()
    this.rethrow()
  }

  /** a leader's slot reservations and the proposed assignments holding them go together */
  private checkReservations (): void {
    for (const n of this.up()) {
      if (!n.proc.driver.isLeader) continue
      const r = n.proc.leader.reservations()
      if (r.slots !== r.tasks) this.violation ??= new SimViolation('leader-reservations', `${n.id} holds ${r.slots} slots for ${r.tasks} proposed assignments at step ${this.step}`)
    }
  }

  /** this step's messages, each at its own ms inside the step (order kept: FIFO links stay FIFO) */
  private deliver (start: number): void {
    const tick = this.params.node.tickMs
    const due = this.net.takeDue()
    const offsets = due.map(() => randInt(this.rng, 0, tick)).sort((a, b) => a - b)
    // one instant is one turn: timers due together run before the immediates they queue
    if (this.params.bunch > 0) for (let i = 1; i < offsets.length; i++) if (this.bunchRng() < this.params.bunch) offsets[i] = offsets[i - 1]!
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
    if (p.cancelRate > 0 && this.cancelRng() < p.cancelRate && this.ackedIds.size > 0) this.cancelOne()
    if (p.workflowRate > 0 && this.workflowRng() < p.workflowRate) this.submitWorkflow()
    if (p.resubmitRate > 0 && this.resubmitRng() < p.resubmitRate) this.resubmitOne()
    if (this.rng() >= p.submitRate) return
    const size = this.rng() < p.batchShare ? randInt(this.rng, 2, p.batchMax + 1) : 1
    const ops: Array<{ op: number, spec: TaskSpec }> = []
    for (let i = 0; i < size; i++) {
      const op = ++this.ops
      ops.push({ op, spec: { taskType: 'echo', payload: { tag: `op${op}`, n: randInt(this.rng, 0, 1000) }, priority: randInt(this.rng, 1, 6), idempotencyKey: `k${op}` } })
    }
    if (size === 1 && p.keylessShare > 0 && this.keylessRng() < p.keylessShare) delete ops[0]!.spec.idempotencyKey
    const timeoutS = pick(this.rng, [1, 2, 5])
    const maxRetries = randInt(this.rng, 0, 4)
    void this.submit(ops, timeoutS, maxRetries, 1)
  }

  /** a workflow of 2-5 echo steps, each depending on some earlier ones (its own rng stream) */
  private submitWorkflow (): void {
    const r = this.workflowRng
    const n = randInt(r, 2, 6)
    const ops: Array<{ op: number, spec: TaskSpec }> = []
    const deps: string[][] = []
    for (let i = 0; i < n; i++) {
      const op = ++this.ops
      ops.push({ op, spec: { taskType: 'echo', payload: { tag: `op${op}`, n: randInt(r, 0, 1000) }, priority: randInt(r, 1, 6), idempotencyKey: `k${op}` } })
      deps.push(Array.from({ length: i }, (_, j) => `s${j}`).filter(() => r() < 0.5))
    }
    this.workflows++
    void this.submit(ops, pick(r, [1, 2, 5]), randInt(r, 0, 4), 1, deps)
  }

  /** an acknowledged single keyed task sent again, its answer taken for lost (try 3: never retried) */
  private resubmitOne (): void {
    const ref = this.nodes[0]!.proc.core.state
    const keyed = [...this.ackedIds].filter(([op, id]) => this.specsByTag.get(`op${op}`)?.idempotencyKey !== undefined && ref.getTask(id) !== undefined)
    if (keyed.length === 0) return
    const [op] = pick(this.resubmitRng, keyed)
    const spec = this.specsByTag.get(`op${op}`)!
    this.log(`resubmit op${op} with its key`)
    void this.submit([{ op, spec }], 5, 0, 3)
  }

  /** a user cancels an acknowledged task (any state: a finished one answers with its record) */
  private cancelOne (): void {
    const up = this.up()
    if (up.length === 0) return
    const node = pick(this.cancelRng, up)
    const id = pick(this.cancelRng, [...this.ackedIds.values()])
    this.cancels++
    this.log(`cancel ${id} via ${node.id}`)
    node.proc.client.cancelTask(id).catch(() => {}) // any answer will do: the checks read the final state
  }

  /** one request through a random live node's NodeScheduler; retried once elsewhere with the same keys */
  private async submit (ops: Array<{ op: number, spec: TaskSpec }>, timeoutS: number, maxRetries: number, tr: number, workflowDeps?: string[][]): Promise<void> {
    const up = this.up()
    if (up.length === 0) return
    const node = pick(this.rng, up)
    const t0 = this.sched.nowMs()
    for (const { op, spec } of ops) {
      this.events.push({ t: t0, type: 'invoke', op, try: tr, node: node.id, spec })
      this.specsByTag.set(String(spec.payload.tag), spec)
    }
    const body = (s: TaskSpec): Record<string, unknown> => ({
      task_type: s.taskType, payload: s.payload, priority: s.priority, idempotency_key: s.idempotencyKey,
      requirements: { timeout_seconds: timeoutS, max_retries: maxRetries }
    })
    try {
      const c = node.proc.client
      const ids = workflowDeps !== undefined
        ? (await c.submitWorkflow({ name: `w${ops[0]!.op}`, steps: ops.map((o, i) => ({ name: `s${i}`, task: body(o.spec), dependsOn: workflowDeps[i] })) })).taskIds
        : ops.length === 1
          ? [await c.submitTask(body(ops[0]!.spec), { idempotencyKey: ops[0]!.spec.idempotencyKey })]
          : (await c.submitBatch({ name: `b${ops[0]!.op}`, tasks: ops.map(o => body(o.spec)) })).taskIds
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
      // a keyless submission tried again would be a second task, not the same one
      const keyless = ops.some(o => o.spec.idempotencyKey === undefined)
      if (tr < 2 && this.faultsOn && !keyless) await this.submit(ops, timeoutS, maxRetries, tr + 1, workflowDeps)
    }
  }

  // ---- heal, quiescence, checks ---------------------------------------------------------------

  /** tasks not yet terminal, on the node that knows most of them */
  backlog (): number {
    let most = 0
    for (const n of this.nodes) most = Math.max(most, n.proc.core.state.listTasks().filter(r => !TERMINAL_STATUSES.has(r.status)).length)
    return most
  }

  /** Heal everything, then run until every task is terminal on every node (bounded). */
  async quiesce (bound: number): Promise<number> {
    this.healedAtMs = this.sched.nowMs()
    this.healStep = this.step
    this.net.heal()
    this.net.rates = { drop: 0, duplicate: 0, maxDelay: this.params.maxDelay, reorder: this.params.reorder }
    for (const n of this.nodes) if (!n.up) this.restart(n)
    this.log('final heal')
    this.events.push({ t: this.sched.nowMs(), type: 'heal', phase: 'all-healed' })
    let terminal = -1
    let progressAt = 0
    for (let t = 1; t <= bound; t++) {
      await this.runStep(false)
      if (t % QUIESCE_CHECK_EVERY !== 0) continue
      if ((this.notQuiet = this.whyNotQuiescent(this.sched.nowMs())) === undefined) return t
      const done = this.nodes[0]!.proc.core.state.listTasks().filter(r => TERMINAL_STATUSES.has(r.status)).length
      if (done > terminal) { terminal = done; progressAt = t } else if (t - progressAt > STALL_STEPS) {
        this.notQuiet = `no task finished in ${STALL_STEPS} steps: ${this.notQuiet}`
        return t
      }
    }
    this.notQuiet = this.whyNotQuiescent(this.sched.nowMs())
    return bound
  }

  /**
   * Undefined once quiescent: one leader, every task terminal on every node, every acknowledged
   * one's chain terminal (recorded as the client's 'final' observation), all states equal.
   */
  private whyNotQuiescent (now: number): string | undefined {
    const leaders = this.nodes.filter(n => n.proc.driver.isLeader).map(n => n.id)
    if (leaders.length !== 1) return `${leaders.length} leaders (${leaders.join(',')}): ${this.describe()}`
    for (const n of this.nodes) {
      for (const rec of n.proc.core.state.listTasks()) if (!TERMINAL_STATUSES.has(rec.status)) return `${n.id} holds ${rec.id} '${rec.status}' ${describe(rec)}`
    }
    const ref = this.nodes[0]!.proc.core.state
    for (const [op, id] of this.ackedIds) {
      if (this.finalSeen.has(op)) continue
      let rec = ref.getTask(id)
      for (let i = 0; i < 20 && rec?.replacedBy !== undefined; i++) rec = ref.getTask(rec.replacedBy)
      if (rec === undefined || !TERMINAL_STATUSES.has(rec.status)) return `acknowledged op${op} (${id}) not terminal on ${this.nodes[0]!.id}`
      this.finalSeen.add(op)
      this.events.push({ t: now, type: 'final', op, id, lastId: rec.id, status: rec.status, node: this.nodes[0]!.id })
    }
    const h = this.nodes.map(n => stateHash(n.proc.core.state.snapshot()))
    if (!h.every(x => x === h[0])) return `states differ: ${this.describe()}`
    // nothing is on its way into the log, so the leader holds nothing for any task
    const left = this.byId(leaders[0]!)!.proc.leader.leftovers()
    if (Object.keys(left).length > 0) return `leader ${leaders[0]!} still holds per-task bookkeeping: ${JSON.stringify(left)}`
    // ... and no worker for any attempt
    for (const n of this.nodes) {
      const w = n.proc.worker.leftovers()
      if (Object.keys(w).length > 0) return `${n.id}'s worker still holds per-attempt bookkeeping: ${JSON.stringify(w)}`
    }
    return undefined
  }

  /** each node's Raft position, for failure messages */
  describe (): string {
    return this.nodes.map(n => {
      const s = n.raw.raft.status()
      return `${n.id}:${n.up ? '' : 'down:'}${s.role[0]}${s.term} c${s.commit} a${n.proc.driver.appliedIndex} l${s.lastIndex}${n.proc.core.halted !== undefined ? ' HALTED' : ''}`
    }).join(' ')
  }

  /** the invariants, on the final state of every node; throws a SimViolation listing what failed */
  checkFinal (quiesceBound: number): CheckReport {
    const finals = new Map<string, SoakRecord[]>()
    for (const n of this.nodes) finals.set(n.id, n.proc.core.state.listTasks() as unknown as SoakRecord[])
    // the client's last look: chains terminal now count as seen (liveness is judged by quiesce above)
    const ref = this.nodes[0]!.proc.core.state
    for (const [op, id] of this.ackedIds) {
      if (this.finalSeen.has(op)) continue
      let rec = ref.getTask(id)
      for (let i = 0; i < 20 && rec?.replacedBy !== undefined; i++) rec = ref.getTask(rec.replacedBy)
      if (rec !== undefined && TERMINAL_STATUSES.has(rec.status)) this.events.push({ t: this.healedAtMs, type: 'final', op, id, lastId: rec.id, status: rec.status, node: this.nodes[0]!.id })
    }
    // the priority judgement compares one device's start times with the leader's assignment times:
    // only meaningful when all clocks agree (the soak's premise: one machine)
    const faultMarginMs = this.params.node.maxClockSkewMs > 0 ? Number.POSITIVE_INFINITY : undefined
    const report = check({ events: this.events, finals, metrics: new Map(), boundMs: quiesceBound * this.params.node.tickMs, faultMarginMs })
    const problems = report.violations.map(v => `${v.kind}: ${v.message}`)
    if (this.notQuiet !== undefined) problems.unshift(`liveness: not quiescent ${this.step - this.healStep} steps after the heal: ${this.notQuiet}`)
    for (const n of this.nodes) {
      for (const rec of n.proc.core.state.listTasks()) {
        if (!TERMINAL_STATUSES.has(rec.status) && problems.length < 50) problems.push(`stuck: ${n.id} holds ${rec.id} '${rec.status}' after the heal and ${quiesceBound} quiet steps ${describe(rec)}`)
      }
    }
    // A task runs only once the cluster accepted it, except a keyless one placed with its
    // submission, which may run while that submission commits and be lost with its leader
    // (LeaderLoop.placeSubmitted). So a task id some executor ran and no node holds must be a
    // keyless op's: anything else ran a submission the cluster refused or deduplicated.
    for (const [taskId, x] of this.executedTasks) {
      if (ref.getTask(taskId) !== undefined || ref.wasEvicted(taskId)) continue
      const spec = this.specsByTag.get(x.tag)
      if (spec === undefined || spec.idempotencyKey !== undefined) {
        if (problems.length < 50) problems.push(`unaccepted run: ${x.node} ran ${taskId} (tag ${x.tag}${spec === undefined ? ', no such op' : `, key ${spec.idempotencyKey}`}), which no node holds`)
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
      crashes: this.crashes, partitions: this.partitions, cancels: this.cancels, workflows: this.workflows, priorityPairsJudged: report.stats.priorityPairsJudged, leaders: this.checker.leadersElected, messages: this.net.sent
    }
  }

  stop (): void {
    for (const n of this.nodes) n.crash()
    Task.idGenerator = this.idGenerator
  }
}

function describe (rec: TaskRecord): string {
  const { task, ...rest } = rec
  return JSON.stringify({ ...rest, requirements: task.requirements })
}

/** one number for a node's whole replicated state (its snapshot, tasks in id order) */
export function stateHash (snap: ReturnType<ClusterProcess['core']['state']['snapshot']>): number {
  const canon = { ...snap, tasks: [...snap.tasks].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) }
  return hashStep(0, encodeValue(canon))
}

/** Run one seed; rejects with SimFailure (seed and replay command) on any violation. */
export async function runClusterSeed (seed: number, opts: ClusterSimOptions): Promise<ClusterSimResult> {
  const sim = new ClusterSimulation(seed, opts)
  let bound = opts.quiesceSteps ?? DEFAULT_QUIESCE_STEPS
  try {
    for (let i = 0; i < opts.steps; i++) await sim.runStep(true)
    bound = quiesceBound(bound, sim.backlog(), sim.params)
    const q = await sim.quiesce(bound)
    const report = sim.checkFinal(bound)
    return sim.result(q, report)
  } catch (err) {
    throw new SimFailure(seed, sim.step, err as Error, `npx tsx scripts/sim-cluster.ts --steps ${opts.steps} --trace`)
  } finally {
    sim.stop()
  }
}
