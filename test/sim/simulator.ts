// Deterministic swarm simulator: one seed picks the cluster shape and fault rates, then drives a
// random schedule of ticks, deliveries, proposals, crashes, partitions, membership changes,
// leadership transfers and reads; checkers run after every step. Finally the network heals and the
// cluster must elect a leader and commit a proposal on every member within a bound of ticks.
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import { ProposalDroppedError, RaftInputError } from '../../src/protocol/raft/errors.js'
import { decodeConfChange } from '../../src/protocol/raft/conf-change.js'
import type { ConfChange, Entry, Message, NodeId } from '../../src/protocol/raft/types.js'
import { Checker, SimViolation } from './checker.js'
import { SimNetwork } from './network.js'
import { SimNode, type NodeOptions } from './node.js'
import { mulberry32, pick, randInt, type Rng } from './rng.js'
import { randomConfChange, randomCut } from './swarm-moves.js'

export interface SimParams {
  voters: number
  spares: number
  opts: NodeOptions
  drop: number
  duplicate: number
  maxDelay: number
  reorder: boolean
  /** the driver reports snapshot delivery (reportSnapshot); otherwise the core's timeout recovers */
  reportSnapshots: boolean
  crashRate: number
  restartRate: number
  crashMidReadyRate: number
  partitionRate: number
  healRate: number
  proposeRate: number
  confRate: number
  transferRate: number
  readRate: number
}

export interface SimResult {
  seed: number
  steps: number
  params: SimParams
  applied: number
  leaders: number
  reads: number
  crashes: number
  partitions: number
  confChanges: number
  snapshotsSent: number
  healTicks: number
  catchUpTicks: number
  messages: number
}

export class SimFailure extends Error {
  constructor (readonly seed: number, readonly step: number, cause: Error, replay = 'npx tsx scripts/sim.ts --reference') {
    super(`seed ${seed} failed at step ${step}: ${cause.message}\nreplay: SEED=${seed} ${replay}`)
    this.name = 'SimFailure'
    this.stack = `${this.message}\n${cause.stack ?? ''}`
  }
}

/** Swarm testing: each seed draws its own rates, so some runs are calm and some are storms. */
export function drawParams (rng: Rng): SimParams {
  const p = drawRaw(rng)
  // Raft's timing requirement (§5.6: broadcast time << election timeout): a heartbeat and its
  // answer must fit well inside the election timeout, else no leader survives (CheckQuorum) —
  // a misconfiguration, not a protocol bug. Clamping consumes no randomness, so seeds keep the rest.
  const e = p.opts.electionTick
  p.opts.heartbeatTick = Math.max(1, Math.min(p.opts.heartbeatTick, Math.floor(e / 3)))
  p.maxDelay = Math.max(1, Math.min(p.maxDelay, Math.floor((e - p.opts.heartbeatTick - 1) / 2)))
  return p
}

function drawRaw (rng: Rng): SimParams {
  const maybe = (p: number, v: () => number): number => rng() < p ? v() : 0
  return {
    voters: randInt(rng, 3, 6),
    spares: randInt(rng, 0, 3),
    opts: {
      electionTick: pick(rng, [5, 10, 10, 20]),
      heartbeatTick: pick(rng, [1, 1, 2, 3]),
      preVote: rng() < 0.8,
      checkQuorum: rng() < 0.8,
      maxSizePerMsg: pick(rng, [16, 256, 1 << 20]),
      maxInflightMsgs: pick(rng, [1, 4, 64]),
      snapshotEvery: maybe(0.6, () => randInt(rng, 5, 60)),
      compactLag: randInt(rng, 0, 8),
      maxUncommittedEntries: MAX_UNCOMMITTED
    },
    drop: maybe(0.7, () => rng() * 0.2),
    duplicate: maybe(0.5, () => rng() * 0.1),
    maxDelay: randInt(rng, 1, 6),
    reorder: rng() < 0.3,
    reportSnapshots: rng() < 0.7,
    crashRate: maybe(0.6, () => rng() * 0.01),
    restartRate: 0.02 + rng() * 0.1,
    crashMidReadyRate: maybe(0.3, () => rng() * 0.005),
    partitionRate: maybe(0.6, () => rng() * 0.02),
    healRate: 0.01 + rng() * 0.05,
    proposeRate: 0.1 + rng() * 0.8,
    confRate: maybe(0.5, () => rng() * 0.03),
    transferRate: maybe(0.4, () => rng() * 0.01),
    readRate: maybe(0.6, () => rng() * 0.1)
  }
}

const enc = new TextEncoder()
/** the full pairwise Log Matching check is O(nodes² × log); per-entry checks run on every Ready */
const LOG_MATCHING_EVERY = 50

export class Simulation {
  readonly rng: Rng
  readonly params: SimParams
  readonly net: SimNetwork
  readonly checker = new Checker()
  readonly nodes: SimNode[] = []
  /** ids removed from the configuration by a committed conf change (known from the leader's view) */
  private proposals = 0
  private reads = 0
  private crashes = 0
  private partitions = 0
  private confChanges = 0
  private snapshotsSent = 0
  step = 0
  private readonly trace: ((s: string) => void) | undefined

  constructor (readonly seed: number, trace?: (s: string) => void) {
    this.rng = mulberry32(seed)
    this.params = drawParams(this.rng)
    this.trace = trace
    const p = this.params
    this.net = new SimNetwork(this.rng, { drop: p.drop, duplicate: p.duplicate, maxDelay: p.maxDelay, reorder: p.reorder })
    if (p.reportSnapshots) this.net.onSnapFate = (from, to, ok) => this.snapReports.push({ from, to, ok })
    const voters: NodeId[] = []
    for (let i = 1; i <= p.voters; i++) voters.push(`n${i}`)
    const obs = {
      onReady: this.checker.onReady.bind(this.checker),
      beforeSend: this.checker.beforeSend.bind(this.checker),
      onApply: (n: SimNode, e: Entry, hash: number) => { this.checker.onApply(n, e, hash); this.noteRemoval(e) },
      onRestoreSnapshot: this.checker.onRestoreSnapshot.bind(this.checker),
      onReadState: this.checker.onReadState.bind(this.checker)
    }
    for (let i = 1; i <= p.voters + p.spares; i++) {
      const id = `n${i}`
      const storage = i <= p.voters ? new MemoryStorage({ conf: { voters, learners: [] }, bootstrapIndex: 1 }) : new MemoryStorage()
      // each node gets its own stream derived from the seed, so runs replay exactly
      this.nodes.push(new SimNode(id, storage, p.opts, mulberry32(seed * 31 + i), obs))
    }
  }

  /**
   * Without the leader lease a removed node that never learnt of its removal keeps starting
   * elections and disrupts the cluster (thesis §4.2.3), so an operator shuts it down; with
   * CheckQuorum it keeps running, which tests that the lease neutralises it.
   */
  private noteRemoval (e: Entry): void {
    if (e.type !== 'conf') return
    const cc = decodeConfChange(e.data)
    if (cc.type !== 'removeNode' || this.params.opts.checkQuorum) return
    this.decommissioned.add(cc.nodeId)
  }

  private readonly decommissioned = new Set<NodeId>()
  /** snapshot delivery reports, handed to the sender at the next step (not inside its Ready) */
  private snapReports: Array<{ from: NodeId, to: NodeId, ok: boolean }> = []

  private log (s: string): void { this.trace?.(`[${this.step}] ${s}`) }

  private send = (m: Message): void => {
    if (m.type === 'snap') this.snapshotsSent++
    this.net.send(m)
  }

  leaders (): SimNode[] { return this.nodes.filter(n => n.up && n.raw.raft.role === 'leader') }

  /** one simulated tick with faults and client activity */
  runStep (faults: boolean): void {
    this.step++
    if (faults) this.injectFaults()
    else for (const n of this.nodes) if (this.decommissioned.has(n.id)) n.crash()
    this.net.now++
    const reports = this.snapReports
    this.snapReports = []
    for (const r of reports) {
      const n = this.nodes.find(x => x.id === r.from)
      if (n !== undefined && n.up) { n.raw.reportSnapshot(r.to, r.ok); n.drain(this.send) }
    }
    for (const m of this.net.takeDue()) {
      const to = this.nodes.find(n => n.id === m.to)
      if (m.type === 'snap' && this.params.reportSnapshots && (to === undefined || !to.up)) this.snapReports.push({ from: m.from, to: m.to, ok: false })
      if (to === undefined || !to.up) continue
      to.raw.step(m)
      to.drain(this.send)
    }
    for (const n of this.nodes) if (n.up) n.raw.tick()
    this.clientActivity(faults)
    for (const n of this.nodes) n.drain(this.send)
    this.checker.afterStep(this.nodes)
    if (this.step % LOG_MATCHING_EVERY === 0) this.checker.checkLogMatching(this.nodes.filter(n => n.up))
  }

  private injectFaults (): void {
    const p = this.params
    const rng = this.rng
    const up = this.nodes.filter(n => n.up)
    if (up.length > 0 && rng() < p.crashRate) {
      const n = pick(rng, up); n.crash(); this.crashes++; this.log(`crash ${n.id}`)
    }
    if (up.length > 0 && rng() < p.crashMidReadyRate) {
      const n = pick(rng, up); n.crashAfterPersist = true; this.crashes++; this.log(`crash ${n.id} after next persist`)
    }
    for (const n of this.nodes) {
      if (this.decommissioned.has(n.id)) { if (n.up) { n.crash(); this.log(`decommission ${n.id}`) } continue }
      if (!n.up && rng() < p.restartRate) { n.restart(); this.log(`restart ${n.id}`) }
    }
    if (rng() < p.partitionRate) this.partition()
    if (this.net.blockedLinks() > 0 && rng() < p.healRate) { this.net.heal(); this.log('heal') }
  }

  private partition (): void {
    this.partitions++
    const what = randomCut(this.rng, this.nodes.map(n => n.id), this.net)
    if (what !== undefined) this.log(what)
  }

  private clientActivity (faults: boolean): void {
    const p = this.params
    const rng = this.rng
    for (const l of this.leaders()) {
      // after heal only the marker is proposed, so a slow configuration is not buried in backlog
      if (faults && rng() < p.proposeRate) {
        const size = p.opts.maxSizePerMsg <= 16 ? randInt(rng, 1, 40) : 8
        const cmd = `c${this.proposals++}:`.padEnd(size, 'x')
        this.tryDo(() => l.raw.propose(enc.encode(cmd)))
      }
      if (faults && rng() < p.confRate) this.confChange(l)
      if (faults && rng() < p.transferRate) {
        const to = pick(rng, l.raw.raft.status().voters)
        this.log(`transfer ${l.id} -> ${to}`)
        this.tryDo(() => l.raw.transferLeadership(to))
      }
    }
    if (rng() < p.readRate) {
      const n = pick(rng, this.nodes)
      if (n.up) {
        const ctx = `r${this.reads++}`
        this.checker.noteReadIssued(ctx)
        this.tryDo(() => n.raw.readIndex(enc.encode(ctx)))
      }
    }
  }

  private confChange (l: SimNode): void {
    const cc = randomConfChange(this.rng, l.raw.raft.status(), this.nodes.map(n => n.id), this.everMember)
    if (cc === undefined) return
    this.tryDo(() => {
      l.raw.proposeConfChange(cc)
      this.confChanges++
      this.everMember.add(cc.nodeId)
      this.log(`conf ${cc.type} ${cc.nodeId} at ${l.id}`)
    })
  }

  /** ids ever added or removed: never re-added (a removed node's old state must not rejoin) */
  private readonly everMember = new Set<NodeId>()

  private tryDo (f: () => void): void {
    try { f() } catch (err) {
      if (err instanceof ProposalDroppedError || err instanceof RaftInputError) return
      throw err
    }
  }

  /**
   * Heal everything, then require (1) a leader and a committed proposal within boundTicks, and
   * (2) every member of the leader's configuration applying it within catchUpTicks more (slow
   * configurations — one small message in flight — catch up one entry per round trip).
   */
  converge (catchUpTicks: number): { commitTicks: number, catchUpTicks: number } {
    const boundTicks = healBoundTicks(this.params, this.lag())
    this.net.heal()
    this.net.rates = { drop: 0, duplicate: 0, maxDelay: this.params.maxDelay, reorder: this.params.reorder }
    for (const n of this.nodes) {
      n.crashAfterPersist = false // no fault may fire after the heal
      if (this.decommissioned.has(n.id)) n.crash()
      else if (!n.up) n.restart()
    }
    this.log('final heal')
    const marker = enc.encode(`final-${this.seed}`)
    let proposedAt = -1
    let committedAt = -1
    for (let t = 1; t <= boundTicks + catchUpTicks; t++) {
      this.runStep(false)
      const want = this.checker.indexOf(marker)
      if (want !== undefined && committedAt < 0) committedAt = t
      if (committedAt < 0 && t > boundTicks) break
      const leaders = this.leaders().filter(l => l.raw.raft.promotable())
      if (leaders.length === 0) continue
      const l = leaders.reduce((a, b) => (a.raw.raft.term >= b.raw.raft.term ? a : b))
      if (want === undefined) {
        if (proposedAt < 0 || t - proposedAt > 40) {
          try { l.raw.propose(marker); proposedAt = t } catch (err) { if (!(err instanceof ProposalDroppedError)) throw err }
        }
        continue
      }
      const st = l.raw.raft.status()
      const members = [...st.voters, ...st.learners].map(id => this.nodes.find(n => n.id === id) as SimNode)
      if (members.every(n => n.applied >= want)) return { commitTicks: committedAt, catchUpTicks: t - committedAt }
    }
    if (committedAt < 0) {
      throw new SimViolation('liveness', `no leader committed a proposal within ${boundTicks} ticks after heal (${this.describe()})`)
    }
    throw new SimViolation('liveness', `members did not catch up within ${catchUpTicks} ticks after the commit (${this.describe()})`)
  }

  /** how far the most lagging live node is behind the longest log (entries it may need first) */
  lag (): number {
    const live = this.nodes.filter(n => !this.decommissioned.has(n.id)).map(n => n.raw.raft.log.lastIndex())
    return Math.max(...live) - Math.min(...live)
  }

  describe (): string {
    return this.nodes.map(n => {
      const s = n.raw.raft.status()
      return `${n.id}:${n.up ? '' : 'down:'}${s.role[0]}${s.term} c${s.commit} a${n.applied} l${s.lastIndex} v[${s.voters.join(',')}] L[${s.learners.join(',')}]`
    }).join(' ')
  }

  result (healTicks: number, catchUpTicks: number): SimResult {
    return {
      seed: this.seed, steps: this.step, params: this.params, applied: this.checker.maxApplied, leaders: this.checker.leadersElected,
      reads: this.checker.readsServed, crashes: this.crashes, partitions: this.partitions, confChanges: this.confChanges,
      snapshotsSent: this.snapshotsSent, healTicks, catchUpTicks, messages: this.net.sent
    }
  }
}

/** Leader back-pressure in the simulation: proposals beyond this many uncommitted entries drop. */
export const MAX_UNCOMMITTED = 64
/**
 * After heal, a leader must commit within this many election timeouts plus the time to drain a
 * full uncommitted backlog at one entry per round trip (the slowest drawn configuration).
 */
export const HEAL_BOUND_ELECTIONS = 30
/**
 * The commit bound after heal: elections settle, then a voter may first have to catch up on `lag`
 * entries plus the uncommitted backlog; in the worst drawn configuration (one small message in
 * flight) that is one entry per round trip or heartbeat.
 */
export function healBoundTicks (p: SimParams, lag: number): number {
  return HEAL_BOUND_ELECTIONS * p.opts.electionTick + (lag + MAX_UNCOMMITTED) * (2 * p.maxDelay + p.opts.heartbeatTick)
}
/** ...and every member must apply that commit within this many more ticks. */
export const CATCH_UP_BOUND_TICKS = 4000

/** Run one seed; throws SimFailure (with the seed and replay hint) on any violation. */
export function runSeed (seed: number, steps: number, trace?: (s: string) => void): SimResult {
  const sim = new Simulation(seed, trace)
  try {
    for (let i = 0; i < steps; i++) sim.runStep(true)
    const heal = sim.converge(CATCH_UP_BOUND_TICKS)
    sim.checker.checkLogMatching(sim.nodes)
    return sim.result(heal.commitTicks, heal.catchUpTicks)
  } catch (err) {
    throw new SimFailure(seed, sim.step, err as Error)
  }
}
