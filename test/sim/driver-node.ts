// A simulated node running the production Raft driver (src/node/raft/driver.ts) unchanged: its
// timers on a SimScheduler, its storage a SimDisk (sqlite's deferred-fsync crash model), its
// messages through the simulator's network. The state machine is the same hash chain as node.ts.
// Checker hooks run inside the driver's callbacks; since the driver runs some of those in promise
// callbacks (where a throw would be taken for a failed fsync), violations are recorded in `fail`
// and rethrown by the simulator after each event.
import { RaftDriver } from '../../src/node/raft/driver.js'
import type { Logger } from '../../src/node/log.js'
import type { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import type { RawNode } from '../../src/protocol/raft/raw-node.js'
import type { ConfState, Entry, Message, NodeId, ReadState, Snapshot } from '../../src/protocol/raft/types.js'
import { hashStep, type NodeOptions } from './node.js'
import type { Rng } from './rng.js'
import { SimDisk } from './sim-disk.js'
import type { SimScheduler } from './sim-scheduler.js'

/** What the simulation gives each node: time, the network, fsync latency, and the checkers. */
export interface DriverNodeEnv {
  sched: SimScheduler
  tickMs: number
  fsyncMs: () => number
  stallMs: () => number
  send: (m: Message) => void
  /** records the first violation; the simulator rethrows it */
  fail: (err: Error) => void
  onPersist?: (node: DriverNode, entries: readonly Entry[]) => void
  onSend?: (node: DriverNode, m: Message) => void
  onApply?: (node: DriverNode, e: Entry, hashAfter: number) => void
  onRestoreSnapshot?: (node: DriverNode, s: Snapshot, hash: number) => void
  onReadState?: (node: DriverNode, rs: ReadState) => void
  onLeader?: (node: DriverNode, term: number) => void
  onConfState?: (node: DriverNode, cs: ConfState, prev: ConfState) => void
}

const dec = new TextDecoder()
const enc = new TextEncoder()

export class DriverNode {
  driver: RaftDriver
  disk: SimDisk
  up = true
  applied = 0
  hash = 0
  appliedCommands = 0
  conf: ConfState
  /** when set, the node crashes right after its next write (before anything else happens) */
  crashAfterPersist = false

  constructor (readonly id: NodeId, durable: MemoryStorage, readonly opts: NodeOptions, private readonly rng: Rng, private readonly env: DriverNodeEnv) {
    this.disk = this.newDisk(durable)
    this.conf = durable.initialState().confState
    this.driver = this.boot()
  }

  /** the core, for the checkers and the simulator's client (as SimNode.raw) */
  get raw (): RawNode { return this.driver.raft }
  /** the durable state (what a crash keeps), for the checkers */
  get storage (): MemoryStorage { return this.disk.durable }

  private newDisk (durable: MemoryStorage): SimDisk {
    return new SimDisk(durable, {
      sched: this.env.sched,
      fsyncMs: this.env.fsyncMs,
      stallMs: this.env.stallMs,
      onSave: entries => { this.guard(() => this.env.onPersist?.(this, entries)) },
      afterSave: () => { if (this.crashAfterPersist) this.crash() }
    })
  }

  private boot (): RaftDriver {
    const snap = this.disk.snapshot()
    this.restoreState(snap.data, snap.meta.index)
    this.conf = this.disk.initialState().confState
    const o = this.opts
    const d = new RaftDriver({
      id: this.id,
      storage: this.disk,
      tickMs: this.env.tickMs,
      electionTicks: o.electionTick,
      rng: this.rng,
      log: this.logger(),
      scheduler: this.env.sched,
      tuning: {
        heartbeatTick: o.heartbeatTick, preVote: o.preVote, checkQuorum: o.checkQuorum, maxSizePerMsg: o.maxSizePerMsg,
        maxInflightMsgs: o.maxInflightMsgs, maxUncommittedEntries: o.maxUncommittedEntries
      },
      send: m => { if (this.up) { this.guard(() => this.env.onSend?.(this, m)); this.env.send(m) } },
      apply: e => { this.guard(() => this.apply(e)) },
      onConfState: cs => { const prev = this.conf; this.conf = cs; this.guard(() => this.env.onConfState?.(this, cs, prev)) },
      onRoleChange: (role, _leader, term) => { if (role === 'leader') this.guard(() => this.env.onLeader?.(this, term)) },
      onReadState: rs => { this.guard(() => this.env.onReadState?.(this, rs)) },
      snapshotData: () => enc.encode(JSON.stringify({ hash: this.hash, n: this.appliedCommands })),
      restoreSnapshot: (data, index) => { this.guard(() => this.restoreFromLeader(data, index)) },
      // the driver keeps half a snapshot interval of log behind each snapshot
      snapshotEntries: o.snapshotEvery > 0 ? o.snapshotEvery : Number.MAX_SAFE_INTEGER,
      applied: snap.meta.index
    })
    d.start()
    return d
  }

  private logger (): Logger {
    const quiet = (): void => {}
    const l: Logger = {
      debug: quiet,
      info: quiet,
      warn: quiet,
      error: (msg, ...a) => { this.env.fail(new Error(`${this.id}: driver error: ${msg} ${a.map(String).join(' ')}`)) },
      child: () => l
    }
    return l
  }

  private guard (f: () => void): void {
    try { f() } catch (err) { this.env.fail(err as Error) }
  }

  private apply (e: Entry): void {
    // the driver hands conf entries to the core itself; normal ones come here, in order
    if (e.index <= this.applied) throw new Error(`${this.id}: entry ${e.index} applied again after ${this.applied}`)
    if (e.index !== this.driver.appliedIndex + 1) throw new Error(`${this.id}: applying ${e.index} after ${this.driver.appliedIndex} (gap)`)
    if (e.data.length > 0) { this.hash = hashStep(this.hash, e.data); this.appliedCommands++ }
    this.applied = e.index
    this.env.onApply?.(this, e, this.hash)
  }

  private restoreFromLeader (data: Uint8Array, index: number): void {
    this.restoreState(data, index)
    let term = 0
    try { term = this.raw.raft.log.term(index) ?? 0 } catch { /* compacted: the checker compares hashes */ }
    this.env.onRestoreSnapshot?.(this, { meta: { index, term, conf: this.conf }, data }, this.hash)
  }

  private restoreState (data: Uint8Array, index: number): void {
    this.applied = index
    if (data.length === 0) { this.hash = 0; this.appliedCommands = 0; return }
    const st = JSON.parse(dec.decode(data)) as { hash: number, n: number }
    this.hash = st.hash
    this.appliedCommands = st.n
  }

  /** the process dies: timers stop, in-flight fsyncs never complete, unsynced writes may be lost */
  crash (): void {
    if (!this.up) return
    this.up = false
    this.crashAfterPersist = false
    this.disk.dead = true // in-flight fsyncs never complete: what they covered may be lost
    this.driver.stop()
  }

  /**
   * a new process on what the disk kept: the durable state plus `keepUnsynced` later writes
   * (`lie`, if given, may take away synced writes too: test/sim/lying-disk.ts)
   */
  restart (keepUnsynced: number, lie?: (image: MemoryStorage) => MemoryStorage): void {
    const image = this.disk.crashImage(keepUnsynced)
    this.disk = this.newDisk(lie === undefined ? image : lie(image))
    this.up = true
    this.crashAfterPersist = false
    this.driver = this.boot()
  }
}
