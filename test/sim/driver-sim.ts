// The seeded swarm simulator running the production Raft driver (src/node/raft/driver.ts): every
// node is a DriverNode on one SimScheduler (simulated ms), a SimDisk (fsync latency, crashes that
// drop unsynced writes) and the SimNetwork. One seed draws the fault rates as in simulator.ts, plus
// the disk's: fsync latency, fsync stalls (the pipeline fills up), and crashes at any instant —
// mid-pipeline, or right after a write before anything else. Checkers run on every write, send and
// apply (the pipelined Ready contract) and after every tick; then the network heals and the cluster
// must commit and catch up within the same bounds as the reference simulation.
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import { ProposalDroppedError, RaftInputError } from '../../src/protocol/raft/errors.js'
import type { ConfChange, ConfState, Message, NodeId } from '../../src/protocol/raft/types.js'
import { Checker, SimViolation } from './checker.js'
import { DriverNode } from './driver-node.js'
import { SimNetwork } from './network.js'
import { mulberry32, pick, randInt, type Rng } from './rng.js'
import { SimScheduler } from './sim-scheduler.js'
import { CATCH_UP_BOUND_TICKS, drawParams, healBoundTicks, SimFailure, type SimParams, type SimResult } from './simulator.js'
import { randomConfChange, randomCut } from './swarm-moves.js'

/** simulated ms per Raft tick (the driver's timer period) */
export const TICK_MS = 10

export interface DiskParams {
  /** fsync latency, uniform in [0, fsyncMaxMs] */
  fsyncMaxMs: number
  /** chance per fsync that the device stalls for up to stallMaxMs (only before the final heal) */
  stallRate: number
  stallMaxMs: number
  /** on a crash, the chance that unsynced writes survive (process crash: they reached the OS) */
  keepUnsyncedRate: number
  /** per tick: crash, at a random instant, a node that has an fsync in flight (if any has) */
  crashInFlightRate: number
}

export interface DriverSimResult extends SimResult {
  disk: DiskParams
  fsyncs: number
  /** the deepest pipeline seen: fsyncs in flight at once on one node */
  maxInFlight: number
  /** most Readies one driver had waiting for their fsync at once (the pipeline's depth) */
  maxPipelined: number
  /** messages a leader sent while an earlier fsync was pending (their commit index already durable) */
  earlyPipelined: number
  lostWrites: number
  simulatedMs: number
}

/** Drawn after the Raft/network parameters so a seed's other choices match simulator.ts. */
function drawDisk (rng: Rng, p: SimParams): DiskParams {
  // fsync sits inside every round trip (an append is acknowledged only once durable), so it shares
  // the election timeout's budget with the network (see drawParams); it is always at least sub-tick.
  const spareTicks = Math.max(0, Math.floor((p.opts.electionTick - p.opts.heartbeatTick - 1 - 2 * p.maxDelay) / 2))
  const fsyncMaxMs = Math.min(pick(rng, [0, 1, 4, 9, 30, 60]), spareTicks * TICK_MS + TICK_MS - 1)
  return {
    fsyncMaxMs,
    stallRate: rng() < 0.5 ? rng() * 0.02 : 0,
    stallMaxMs: randInt(rng, 1, 4) * p.opts.electionTick * TICK_MS,
    keepUnsyncedRate: rng(),
    crashInFlightRate: rng() < 0.6 ? rng() * 0.02 : 0
  }
}

const enc = new TextEncoder()
const LOG_MATCHING_EVERY = 50

export class DriverSimulation {
  readonly rng: Rng
  readonly params: SimParams
  readonly disk: DiskParams
  readonly sched = new SimScheduler()
  readonly net: SimNetwork
  readonly checker = new Checker()
  readonly nodes: DriverNode[] = []
  step = 0
  private violation: Error | undefined
  private faultsOn = true
  private proposals = 0
  private reads = 0
  private crashes = 0
  private partitions = 0
  private confChanges = 0
  private snapshotsSent = 0
  private lostWrites = 0
  private fsyncsOfDead = 0
  private maxInFlightOfDead = 0
  private maxPipelinedOfDead = 0
  private earlyPipelinedOfDead = 0
  private readonly decommissioned = new Set<NodeId>()
  private readonly everMember = new Set<NodeId>()
  private snapReports: Array<{ from: NodeId, to: NodeId, ok: boolean }> = []

  constructor (readonly seed: number, private readonly trace?: (s: string) => void) {
    this.rng = mulberry32(seed)
    this.params = drawParams(this.rng)
    this.disk = drawDisk(this.rng, this.params)
    const p = this.params
    this.net = new SimNetwork(this.rng, { drop: p.drop, duplicate: p.duplicate, maxDelay: p.maxDelay, reorder: p.reorder })
    if (p.reportSnapshots) this.net.onSnapFate = (from, to, ok) => this.snapReports.push({ from, to, ok })
    const voters: NodeId[] = []
    for (let i = 1; i <= p.voters; i++) voters.push(`n${i}`)
    const c = this.checker
    const env = {
      sched: this.sched,
      tickMs: TICK_MS,
      fsyncMs: () => this.fsyncMs(),
      stallMs: () => this.stallMs(),
      send: (m: Message) => { if (m.type === 'snap') this.snapshotsSent++; this.net.send(m) },
      fail: (err: Error) => { this.violation ??= err },
      onPersist: c.onPersist.bind(c),
      onSend: c.onSend.bind(c),
      onApply: c.onApply.bind(c),
      onRestoreSnapshot: c.onRestoreSnapshot.bind(c),
      onReadState: c.onReadState.bind(c),
      onLeader: c.onLeader.bind(c),
      onConfState: (n: DriverNode, cs: ConfState, prev: ConfState) => { this.noteConf(cs, prev) }
    }
    for (let i = 1; i <= p.voters + p.spares; i++) {
      const st = i <= p.voters ? new MemoryStorage({ conf: { voters, learners: [] }, bootstrapIndex: 1 }) : new MemoryStorage()
      this.nodes.push(new DriverNode(`n${i}`, st, p.opts, mulberry32(seed * 31 + i), env))
    }
  }

  private fsyncMs (): number { return randInt(this.rng, 0, this.disk.fsyncMaxMs + 1) }

  /** a device stall holds every fsync of that disk (a later fsync cannot overtake it) */
  private stallMs (): number {
    const d = this.disk
    return this.faultsOn && d.stallRate > 0 && this.rng() < d.stallRate ? randInt(this.rng, 1, d.stallMaxMs + 1) : 0
  }

  /**
   * Without CheckQuorum a removed node is shut down by its operator (see simulator.ts noteRemoval).
   * A node applying a change (or a snapshot) from a configuration with id to one without it saw a
   * committed removal: ids are never re-added.
   */
  private noteConf (cs: ConfState, prev: ConfState): void {
    if (this.params.opts.checkQuorum) return
    const members = new Set([...cs.voters, ...cs.learners])
    for (const id of [...prev.voters, ...prev.learners]) if (!members.has(id)) this.decommissioned.add(id)
  }

  private log (s: string): void { this.trace?.(`[${this.step} ${this.sched.elapsedMs}ms] ${s}`) }

  leaders (): DriverNode[] { return this.nodes.filter(n => n.up && n.raw.raft.role === 'leader') }

  private rethrow (): void {
    if (this.violation !== undefined) throw this.violation
  }

  /** one tick of simulated time with faults and client activity */
  async runStep (faults: boolean): Promise<void> {
    this.step++
    this.faultsOn = faults
    if (faults) this.injectFaults()
    else for (const n of this.nodes) if (this.decommissioned.has(n.id)) n.crash()
    this.net.now++
    const start = (this.step - 1) * TICK_MS
    const reports = this.snapReports
    this.snapReports = []
    for (const r of reports) {
      const n = this.nodes.find(x => x.id === r.from)
      if (n !== undefined && n.up) n.driver.reportSnapshot(r.to, r.ok)
    }
    this.deliver(start)
    this.clientActivity(faults)
    await this.sched.advanceTo(this.step * TICK_MS)
    this.rethrow()
    this.checker.afterStep(this.nodes)
    if (this.step % LOG_MATCHING_EVERY === 0) this.checker.checkLogMatching(this.nodes.filter(n => n.up))
  }

  /** this tick's messages, each at its own ms inside the tick (order kept, so FIFO links stay FIFO) */
  private deliver (start: number): void {
    const due = this.net.takeDue()
    const offsets = due.map(() => randInt(this.rng, 0, TICK_MS)).sort((a, b) => a - b)
    due.forEach((m, i) => {
      this.sched.timeout(() => {
        const to = this.nodes.find(n => n.id === m.to)
        if (m.type === 'snap' && this.params.reportSnapshots && (to === undefined || !to.up)) this.snapReports.push({ from: m.from, to: m.to, ok: false })
        if (to === undefined || !to.up) return
        to.driver.step(m)
      }, start + offsets[i] - this.sched.elapsedMs)
    })
  }

  private injectFaults (): void {
    const p = this.params
    const rng = this.rng
    const up = this.nodes.filter(n => n.up)
    if (up.length > 0 && rng() < p.crashRate) {
      // at any instant of this tick: mid-pipeline, between an fsync and its Ready's sends, ...
      const n = pick(rng, up)
      const at = randInt(rng, 0, TICK_MS)
      this.crashes++
      this.sched.timeout(() => { if (n.up) { this.log(`crash ${n.id} (${n.disk.unsyncedWrites} unsynced writes, ${n.disk.inFlight} fsyncs in flight)`); this.noteDead(n); n.crash() } }, at)
    }
    if (rng() < this.disk.crashInFlightRate) {
      this.crashes++
      this.sched.timeout(() => {
        const busy = this.nodes.filter(n => n.up && n.disk.inFlight > 0)
        if (busy.length === 0) return
        const n = pick(this.rng, busy)
        this.log(`crash ${n.id} mid-fsync (${n.disk.unsyncedWrites} unsynced writes, ${n.disk.inFlight} fsyncs in flight)`)
        this.noteDead(n)
        n.crash()
      }, randInt(rng, 0, TICK_MS))
    }
    if (up.length > 0 && rng() < p.crashMidReadyRate) {
      const n = pick(rng, up); n.crashAfterPersist = true; this.crashes++; this.log(`crash ${n.id} after its next write`)
    }
    for (const n of this.nodes) {
      if (this.decommissioned.has(n.id)) { if (n.up) { this.noteDead(n); n.crash(); this.log(`decommission ${n.id}`) } continue }
      if (!n.up && rng() < p.restartRate) this.restart(n)
    }
    if (rng() < p.partitionRate) this.partition()
    if (this.net.blockedLinks() > 0 && rng() < p.healRate) { this.net.heal(); this.log('heal') }
  }

  private noteDead (n: DriverNode): void {
    this.fsyncsOfDead += n.disk.fsyncs
    this.maxInFlightOfDead = Math.max(this.maxInFlightOfDead, n.disk.maxInFlight)
    this.maxPipelinedOfDead = Math.max(this.maxPipelinedOfDead, n.driver.stats.maxPipelined)
    this.earlyPipelinedOfDead += n.driver.stats.earlyPipelined
  }

  private restart (n: DriverNode): void {
    const unsynced = n.disk.unsyncedWrites
    const keep = this.rng() < this.disk.keepUnsyncedRate ? unsynced : randInt(this.rng, 0, unsynced + 1)
    this.lostWrites += unsynced - keep
    if (n.disk.fsyncs > 0 && !n.disk.dead) this.noteDead(n)
    n.restart(keep)
    this.log(`restart ${n.id} (kept ${keep} of ${unsynced} unsynced writes)`)
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
      if (faults && rng() < p.proposeRate) {
        const size = p.opts.maxSizePerMsg <= 16 ? randInt(rng, 1, 40) : 8
        const cmd = `c${this.proposals++}:`.padEnd(size, 'x')
        this.tryDo(() => l.driver.propose(enc.encode(cmd)))
      }
      if (faults && rng() < p.confRate) this.confChange(l)
      if (faults && rng() < p.transferRate) {
        const to = pick(rng, l.raw.raft.status().voters)
        this.log(`transfer ${l.id} -> ${to}`)
        this.tryDo(() => l.driver.transferLeadership(to))
      }
    }
    if (rng() < p.readRate) {
      const n = pick(rng, this.nodes)
      if (n.up) {
        const ctx = `r${this.reads++}`
        this.checker.noteReadIssued(ctx)
        this.tryDo(() => n.driver.readIndex(enc.encode(ctx)))
      }
    }
  }

  private confChange (l: DriverNode): void {
    const cc = randomConfChange(this.rng, l.raw.raft.status(), this.nodes.map(n => n.id), this.everMember)
    if (cc === undefined) return
    this.tryDo(() => {
      l.driver.proposeConfChange(cc)
      this.confChanges++
      this.everMember.add(cc.nodeId)
      this.log(`conf ${cc.type} ${cc.nodeId} at ${l.id}`)
    })
  }

  private tryDo (f: () => void): void {
    try { f() } catch (err) {
      if (err instanceof ProposalDroppedError || err instanceof RaftInputError) return
      throw err
    }
  }

  /** heal, then a leader must commit a marker within the bound and every member apply it (as simulator.ts) */
  async converge (catchUpTicks: number): Promise<{ commitTicks: number, catchUpTicks: number }> {
    const boundTicks = healBoundTicks(this.params, this.lag()) + Math.ceil(this.disk.fsyncMaxMs / TICK_MS) * 8
    this.net.heal()
    this.net.rates = { drop: 0, duplicate: 0, maxDelay: this.params.maxDelay, reorder: this.params.reorder }
    for (const n of this.nodes) {
      n.crashAfterPersist = false
      if (this.decommissioned.has(n.id)) { this.noteDead(n); n.crash() } else if (!n.up) this.restart(n)
    }
    this.log('final heal')
    const marker = enc.encode(`final-${this.seed}`)
    let proposedAt = -1
    let committedAt = -1
    for (let t = 1; t <= boundTicks + catchUpTicks; t++) {
      await this.runStep(false)
      const want = this.checker.indexOf(marker)
      if (want !== undefined && committedAt < 0) committedAt = t
      if (committedAt < 0 && t > boundTicks) break
      const leaders = this.leaders().filter(l => l.raw.raft.promotable())
      if (leaders.length === 0) continue
      const l = leaders.reduce((a, b) => (a.raw.raft.term >= b.raw.raft.term ? a : b))
      if (want === undefined) {
        if (proposedAt < 0 || t - proposedAt > 40) {
          try { l.driver.propose(marker); proposedAt = t } catch (err) { if (!(err instanceof ProposalDroppedError)) throw err }
        }
        continue
      }
      const st = l.raw.raft.status()
      const members = [...st.voters, ...st.learners].map(id => this.nodes.find(n => n.id === id) as DriverNode)
      if (members.every(n => n.driver.appliedIndex >= want)) return { commitTicks: committedAt, catchUpTicks: t - committedAt }
    }
    if (committedAt < 0) throw new SimViolation('liveness', `no leader committed a proposal within ${boundTicks} ticks after heal (${this.describe()})`)
    throw new SimViolation('liveness', `members did not catch up within ${catchUpTicks} ticks after the commit (${this.describe()})`)
  }

  lag (): number {
    const live = this.nodes.filter(n => !this.decommissioned.has(n.id)).map(n => n.raw.raft.log.lastIndex())
    return Math.max(...live) - Math.min(...live)
  }

  describe (): string {
    return this.nodes.map(n => {
      const s = n.raw.raft.status()
      return `${n.id}:${n.up ? '' : 'down:'}${s.role[0]}${s.term} c${s.commit} a${n.driver.appliedIndex} l${s.lastIndex} d${n.storage.lastIndex()} v[${s.voters.join(',')}] L[${s.learners.join(',')}]`
    }).join(' ')
  }

  /** stop every driver (their timers live on this run's scheduler, which is then dropped) */
  stop (): void { for (const n of this.nodes) n.crash() }

  result (healTicks: number, catchUpTicks: number): DriverSimResult {
    let fsyncs = this.fsyncsOfDead
    let maxInFlight = this.maxInFlightOfDead
    let maxPipelined = this.maxPipelinedOfDead
    let earlyPipelined = this.earlyPipelinedOfDead
    for (const n of this.nodes) {
      if (n.disk.dead) continue
      fsyncs += n.disk.fsyncs; maxInFlight = Math.max(maxInFlight, n.disk.maxInFlight)
      maxPipelined = Math.max(maxPipelined, n.driver.stats.maxPipelined); earlyPipelined += n.driver.stats.earlyPipelined
    }
    return {
      seed: this.seed, steps: this.step, params: this.params, applied: this.checker.maxApplied, leaders: this.checker.leadersElected,
      reads: this.checker.readsServed, crashes: this.crashes, partitions: this.partitions, confChanges: this.confChanges,
      snapshotsSent: this.snapshotsSent, healTicks, catchUpTicks, messages: this.net.sent,
      disk: this.disk, fsyncs, maxInFlight, maxPipelined, earlyPipelined, lostWrites: this.lostWrites, simulatedMs: this.sched.elapsedMs
    }
  }
}

/** Run one seed on the production driver; rejects with SimFailure (seed and replay hint) on any violation. */
export async function runDriverSeed (seed: number, steps: number, trace?: (s: string) => void): Promise<DriverSimResult> {
  const sim = new DriverSimulation(seed, trace)
  try {
    for (let i = 0; i < steps; i++) await sim.runStep(true)
    const heal = await sim.converge(CATCH_UP_BOUND_TICKS)
    sim.checker.checkLogMatching(sim.nodes)
    return sim.result(heal.commitTicks, heal.catchUpTicks)
  } catch (err) {
    throw new SimFailure(seed, sim.step, err as Error, `npx tsx scripts/sim.ts --steps ${steps}`)
  } finally {
    sim.stop()
  }
}
