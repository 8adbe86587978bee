// One simulated node of the whole cluster layer, composed as src/node/node.ts composes a real one,
// from the production components: RaftDriver (on a SimDisk), ClusterCore and its state machine,
// LeaderLoop, Worker (with a simulated executor), ExecService (the exec protocol and who-was-heard-
// when), NodeScheduler (the client API the HTTP routes call) and the client service answering
// forwarded writes. Only the transport is simulated: Raft messages, exec and client requests and
// bids all travel over the seeded SimNetwork, in envelopes.
//
// A crash kills the process: every timer of its incarnation stops (ProcessScheduler), in-flight
// fsyncs never complete, and unsynced writes may be lost (SimDisk). A restart builds a new
// incarnation from what the disk kept, as startRaft does.
import { readInMemorySnapshot } from '../../src/node/cluster/snapshot-pieces.js'
import { RaftDriver } from '../../src/node/raft/driver.js'
import { ClusterCore } from '../../src/node/cluster/core.js'
import { ExecService, type ExecChannel } from '../../src/node/cluster/exec-service.js'
import { LeaderLoop } from '../../src/node/leader/leader.js'
import { Worker } from '../../src/node/worker/worker.js'
import { NodeScheduler } from '../../src/node/client/scheduler.js'
import { handleClientRequest, makeLeaderRequest } from '../../src/node/client/service.js'
import type { TaskHistory } from '../../src/node/client/history.js'
import { BidTable } from '../../src/node/gossip/bid-table.js'
import { bidTtlMs, refreshMs } from '../../src/node/gossip/significance.js'
import { IDLE_BID_INTERVAL_MS } from '../../src/node/gossip/bids.js'
import type { Logger } from '../../src/node/log.js'
import type { CancelTimer, Scheduler } from '../../src/node/scheduler.js'
import type { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import type { Message, NodeId } from '../../src/protocol/raft/types.js'
import type { DeviceBid } from '../../src/sched/types.js'
import type { Checker } from './checker.js'
import type { Rng } from './rng.js'
import { SimDisk } from './sim-disk.js'
import type { TaskData } from '../../src/sched/types.js'
import { SimExecutor, type ExecParams } from './sim-executor.js'
import type { SimScheduler } from './sim-scheduler.js'

/** What crosses the simulated network. `at` is the sender's simulated ms (see ClusterNode.accepts). */
export type ClusterMsg =
  | { type: 'raft', from: NodeId, to: NodeId, at: number, msg: Message }
  | { type: 'req', from: NodeId, to: NodeId, at: number, proto: 'exec' | 'client', id: number, inc: number, bytes: Uint8Array }
  | { type: 'res', from: NodeId, to: NodeId, at: number, id: number, inc: number, bytes: Uint8Array }
  | { type: 'bid', from: NodeId, to: NodeId, at: number, bid: DeviceBid }

export interface ClusterNodeParams {
  tickMs: number
  electionTicks: number
  deviceTimeoutMs: number
  snapshotEntries: number
  writeDeadlineMs: number
  slots: number
  exec: ExecParams
  /** how often a node publishes its bid (BidGossip's heartbeat) */
  bidIntervalMs: number
  /** each node's wall clock is off by up to this many ms (either way) */
  maxClockSkewMs: number
  /** a snapshot is encoded this many items a slice, a slice every this many simulated ms (0: the next immediate) */
  snapshotSliceItems: number
  snapshotSliceGapMs: number
}

export interface ClusterNodeEnv {
  sched: SimScheduler
  params: ClusterNodeParams
  checker: Checker
  peers: () => NodeId[]
  isUp: (id: NodeId) => boolean
  send: (m: ClusterMsg) => void
  fsyncMs: () => number
  stallMs: () => number
  /** records the first violation; the simulation rethrows it */
  fail: (err: Error) => void
  trace: (s: string) => void
  /** the node whose applied task events go to the trace (when tracing) */
  traceTasks?: NodeId
  /** every attempt a simulated executor starts, on any node (the final checks account for each) */
  executed?: (node: NodeId, task: TaskData, attempt: number) => void
}

/**
 * A process's view of simulated time: once it is killed, none of its timers fire any more. Its
 * wall clock may be off by `skewMs` (devices' clocks disagree; durations are unaffected).
 */
export class ProcessScheduler implements Scheduler {
  alive = true
  constructor (private readonly base: SimScheduler, private readonly skewMs = 0) {}
  nowMs = (): number => this.base.nowMs() + this.skewMs
  monotonicMs = (): number => this.base.monotonicMs()
  timeout = (fn: () => void, ms: number): CancelTimer => this.base.timeout(() => { if (this.alive) fn() }, ms)
  interval = (fn: () => void, ms: number): CancelTimer => this.base.interval(() => { if (this.alive) fn() }, ms)
  immediate = (fn: () => void): void => { this.base.immediate(() => { if (this.alive) fn() }) }
}

/** request/response over the simulated network, as FramedChannel does over libp2p streams */
class SimRpc {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void, cancel: CancelTimer }>()

  constructor (private readonly self: NodeId, private readonly inc: number, private readonly sched: ProcessScheduler, private readonly env: ClusterNodeEnv) {}

  channel (proto: 'exec' | 'client'): ExecChannel {
    return {
      request: async (peer, bytes, opts) => await new Promise<Uint8Array>((resolve, reject) => {
        const id = this.nextId++
        // a crashed peer refuses the connection at once; a cut one is only noticed by the timeout
        const ms = this.env.isUp(peer) ? opts.timeoutMs : this.env.params.tickMs
        const cancel = this.sched.timeout(() => { this.pending.delete(id); reject(new Error(`${proto} request to ${peer} failed (${ms} ms)`)) }, ms)
        this.pending.set(id, { resolve, cancel })
        this.env.send({ type: 'req', from: this.self, to: peer, at: this.sched.monotonicMs(), proto, id, inc: this.inc, bytes })
      }),
      send: async (peer, bytes) => {
        this.env.send({ type: 'req', from: this.self, to: peer, at: this.sched.monotonicMs(), proto, id: 0, inc: this.inc, bytes })
      }
    }
  }

  onResponse (m: Extract<ClusterMsg, { type: 'res' }>): void {
    if (m.inc !== this.inc) return
    const p = this.pending.get(m.id)
    if (p === undefined) return
    this.pending.delete(m.id)
    p.cancel()
    p.resolve(new Uint8Array(m.bytes))
  }
}

const quietLogger = (fail: (e: Error) => void, id: string): Logger => {
  const quiet = (): void => {}
  const l: Logger = {
    debug: quiet,
    info: quiet,
    warn: quiet,
    error: (msg, ...a) => { fail(new Error(`${id}: logged an error: ${msg} ${a.map(x => (x instanceof Error ? x.stack : String(x))).join(' ')}`)) },
    child: () => l
  }
  return l
}

/** One incarnation of the node program (what startNode builds), on the disk the last one left. */
export class ClusterProcess {
  readonly sched: ProcessScheduler
  readonly disk: SimDisk
  readonly core: ClusterCore
  readonly driver: RaftDriver
  readonly leader: LeaderLoop
  readonly worker: Worker
  readonly exec: ExecService
  readonly executor: SimExecutor
  readonly client: NodeScheduler
  /** as node.ts: a forwarded write goes again when the leader changes */
  private readonly leaderListeners = new Set<() => void>()
  readonly bids = new BidTable()
  private readonly rpc: SimRpc
  private bidSeq = 0
  private lastBidAt = -Infinity
  private lastBidActive = -1

  constructor (readonly id: NodeId, readonly incarnation: number, durable: MemoryStorage, rng: Rng, private readonly env: ClusterNodeEnv, node: ClusterNode, skewMs: number) {
    const p = env.params
    this.sched = new ProcessScheduler(env.sched, skewMs)
    const log = quietLogger(env.fail, id)
    this.disk = new SimDisk(durable, {
      sched: env.sched,
      fsyncMs: env.fsyncMs,
      stallMs: env.stallMs,
      onSave: entries => { this.guard(() => env.checker.onPersist(node, entries)) }
    })
    this.rpc = new SimRpc(id, incarnation, this.sched, env)
    this.core = new ClusterCore(log, this.sched, {
      snapshotSliceItems: p.snapshotSliceItems,
      heldApplyBytesPerTurn: p.snapshotSliceItems < 1000 ? 1 : undefined, // one held entry a turn, with the small slices
      nextSlice: fn => { if (p.snapshotSliceGapMs > 0) this.sched.timeout(fn, p.snapshotSliceGapMs); else this.sched.immediate(fn) }
    })
    const snap = this.disk.snapshot()
    if (snap.data.byteLength > 0) this.core.restore(snap.data)
    this.executor = new SimExecutor(p.slots, this.sched, rng, p.exec, (task, attempt) => { env.executed?.(id, task, attempt) })
    this.exec = new ExecService({
      selfId: id,
      channel: this.rpc.channel('exec'),
      core: this.core,
      leader: () => this.leader,
      worker: () => this.worker,
      raft: () => this.driver,
      gossipLastSeen: peer => this.bids.get(peer)?.lastSeen,
      now: this.sched.nowMs,
      log
    })
    this.leader = new LeaderLoop({
      selfId: id,
      core: this.core,
      bids: () => this.bids.all().map(e => e.bid),
      isMember: peer => { const c = this.driver.conf; return c.voters.includes(peer) || c.learners.includes(peer) },
      lastSeen: peer => this.exec.lastSeen(peer),
      dispatch: (dev, items) => this.exec.dispatch(dev, items),
      cancelOn: (dev, taskId, attempt) => { this.exec.cancelOn(dev, taskId, attempt) },
      now: this.sched.nowMs,
      deviceTimeoutMs: p.deviceTimeoutMs,
      log,
      scheduler: this.sched
    })
    this.worker = new Worker(id, this.executor, this.exec.workerLink(), log, this.sched.nowMs, this.sched)
    this.core.bindStoredSnapshot(readInMemorySnapshot(this.disk))
    this.driver = new RaftDriver({
      id,
      storage: this.disk,
      tickMs: p.tickMs,
      electionTicks: p.electionTicks,
      rng,
      log,
      scheduler: this.sched,
      send: m => {
        if (!this.sched.alive) return
        this.guard(() => env.checker.onSend(node, m))
        env.send({ type: 'raft', from: id, to: m.to, at: this.sched.monotonicMs(), msg: m })
      },
      apply: e => { this.core.applyEntry(e) },
      onRoleChange: (role, leaderId, term) => {
        env.trace(`${id}: ${role}, leader ${leaderId ?? 'none'}, term ${term}`)
        if (role === 'leader') this.guard(() => env.checker.onLeader(node, term))
        this.exec.roleChanged(role, term)
        for (const l of [...this.leaderListeners]) l()
      },
      snapshotData: () => this.core.snapshotData(),
      snapshotAsync: () => this.core.snapshotInSlices(),
      snapshotStored: index => { this.core.snapshotStored(index) },
      restoreSnapshot: (data, index) => { this.core.restoreInSlices(data, index) },
      snapshotEntries: p.snapshotEntries,
      applied: snap.meta.index
    })
    this.core.bindProposer(data => { this.driver.propose(data) }, () => this.driver.logApplied)
    this.core.onHalt(h => { env.fail(new Error(`${id}: the core halted at entry ${h.index}: ${h.reason}`)); this.driver.stop() })
    this.client = new NodeScheduler({
      nodeId: id,
      core: this.core,
      leader: this.leader,
      isLeader: () => this.driver.isLeader,
      leaderRequest: makeLeaderRequest(this.rpc.channel('client'), () => this.driver.leaderId, id),
      leaderId: () => this.driver.leaderId,
      onLeaderChange: l => { this.leaderListeners.add(l); return () => { this.leaderListeners.delete(l) } },
      now: this.sched.nowMs,
      rng,
      history: undefined as unknown as TaskHistory, // only metrics read it; the simulation does not
      localPrincipal: 'local-admin',
      writeDeadlineMs: p.writeDeadlineMs,
      scheduler: this.sched
    })
    // the trace follows every task through the first node's applied state (one copy of each event)
    if (env.traceTasks === id) {
      this.core.onEvent((e, index) => {
        const x = e as { deviceId?: string, attempt?: number, status?: string }
        env.trace(`${id}@${index}: ${e.kind} ${e.taskId}${x.attempt !== undefined ? `#${x.attempt}` : ''}${x.deviceId !== undefined ? ` on ${x.deviceId}` : ''}${x.status !== undefined ? ` ${x.status}` : ''}`)
      })
    }
    this.driver.start()
    this.publishBid()
    this.sched.interval(() => { this.bidTick() }, p.bidIntervalMs)
  }

  /** BidGossip's tick: expire, then publish when due (an idle member every IDLE_BID_INTERVAL_MS) or changed */
  private bidTick (): void {
    const now = this.sched.nowMs()
    const p = this.env.params
    this.bids.expire(now, b => bidTtlMs(b, Math.max(p.deviceTimeoutMs * 2, 5000), p.bidIntervalMs, IDLE_BID_INTERVAL_MS), this.id)
    const active = this.worker.activeCount
    const every = refreshMs({ activeTasks: active, cluster: { member: true, leaderId: null, term: 0 } }, p.bidIntervalMs, IDLE_BID_INTERVAL_MS)
    if (now - this.lastBidAt >= every - p.bidIntervalMs / 2 || active !== this.lastBidActive) this.publishBid()
  }

  private guard (f: () => void): void {
    try { f() } catch (err) { this.env.fail(err as Error) }
  }

  /** what BidGossip publishes: enough of a device for the scheduler */
  private publishBid (): void {
    const p = this.env.params
    this.lastBidAt = this.sched.nowMs()
    this.lastBidActive = this.worker.activeCount
    const bid: DeviceBid = {
      nodeId: this.id, name: this.id, incarnation: this.incarnation, seq: ++this.bidSeq, role: 'compute', platform: 'linux', arch: 'x64',
      cpuCores: 4, memoryGb: 8, storageGb: 100, gpu: false, sensors: [], internet: true, bandwidthMbps: 100,
      taskTypes: ['echo'], permissions: ['read_files', 'write_files'],
      sandbox: { network: true, memory: true, cpu: true, filesystem: true },
      cpuUsage: 10, memoryUsage: 20, memoryUsedGb: 1, activeTasks: this.worker.activeCount, maxConcurrentTasks: p.slots, latencyMs: 5,
      cluster: { member: true, leaderId: this.driver.leaderId, term: this.driver.raft.raft.term }
    }
    this.receiveBid(bid)
    for (const peer of this.env.peers()) if (peer !== this.id) this.env.send({ type: 'bid', from: this.id, to: peer, at: this.sched.monotonicMs(), bid })
  }

  private receiveBid (bid: DeviceBid): void {
    if (this.bids.offer(bid, this.sched.nowMs())) this.exec.bidReceived(bid.nodeId)
  }

  /** a message for this process (the simulation checked it is up and the message is not stale) */
  deliver (m: ClusterMsg): void {
    switch (m.type) {
      case 'raft':
        this.exec.heard(m.from) // as RetireNode.onRaft
        this.driver.step(m.msg)
        return
      case 'bid': this.receiveBid(m.bid); return
      case 'res': this.rpc.onResponse(m); return
      case 'req': void this.serve(m); return
    }
  }

  private async serve (m: Extract<ClusterMsg, { type: 'req' }>): Promise<void> {
    const bytes = new Uint8Array(m.bytes)
    let answer: Uint8Array | undefined
    if (m.proto === 'exec') {
      answer = await this.exec.onExec(m.from, bytes)
    } else {
      this.exec.heard(m.from) // as RetireNode.onClient
      answer = await handleClientRequest({
        core: this.core,
        leader: this.leader,
        isLeader: () => this.driver.isLeader,
        leaderId: () => this.driver.leaderId,
        now: this.sched.nowMs,
        log: quietLogger(this.env.fail, this.id)
      }, m.from, bytes)
    }
    if (answer === undefined || m.id === 0 || !this.sched.alive) return
    this.env.send({ type: 'res', from: this.id, to: m.from, at: this.sched.monotonicMs(), id: m.id, inc: m.inc, bytes: answer })
  }

  kill (): void {
    this.sched.alive = false
    this.disk.dead = true
    this.driver.stop()
    this.worker.stop()
    this.leader.close()
  }
}

/** A node across its incarnations: its id, its disk, whether a process runs. */
export class ClusterNode {
  proc: ClusterProcess
  up = true
  /** simulated ms of the last (re)start: messages sent before it went to a dead process */
  startedAt = 0
  incarnations = 1

  constructor (readonly id: NodeId, durable: MemoryStorage, private readonly rng: Rng, private readonly env: ClusterNodeEnv, readonly skewMs = 0) {
    this.proc = new ClusterProcess(id, 1, durable, rng, env, this, skewMs)
  }

  /** for the Raft checkers (CheckedNode) */
  get raw (): RaftDriver['raft'] { return this.proc.driver.raft }
  get storage (): MemoryStorage { return this.proc.disk.durable }

  /** a message sent before this node's last restart was on a connection to the dead process */
  accepts (m: ClusterMsg): boolean { return this.up && m.at >= this.startedAt }

  crash (): void {
    if (!this.up) return
    this.up = false
    this.proc.kill()
  }

  restart (keepUnsynced: number, nowMs: number): void {
    const image = this.proc.disk.crashImage(keepUnsynced)
    this.incarnations++
    this.startedAt = nowMs
    this.up = true
    this.proc = new ClusterProcess(this.id, this.incarnations, image, this.rng, this.env, this, this.skewMs)
  }
}
