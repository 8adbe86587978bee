// A simulated Raft node: the pure core plus a strict reference driver (persist → send → apply →
// advance, synchronously) against a MemoryStorage, a tiny state machine (a hash chain over applied
// commands), optional snapshot/compaction, and crash/restart from the durable part. The unit tests
// and `scripts/sim.ts --reference` use it; the swarm runs the production driver (driver-node.ts).
import { RawNode } from '../../src/protocol/raft/raw-node.js'
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import type { ConfState, Entry, Message, NodeId, Ready, ReadState, Snapshot } from '../../src/protocol/raft/types.js'
import type { Rng } from './rng.js'

export interface NodeOptions {
  electionTick: number
  heartbeatTick: number
  preVote: boolean
  checkQuorum: boolean
  maxSizePerMsg: number
  maxInflightMsgs: number
  /** take a snapshot once this many entries were applied since the last one (0 = never) */
  snapshotEvery: number
  /** entries kept in the log behind a snapshot (so slow followers can still catch up by log) */
  compactLag: number
  maxUncommittedEntries: number
}

/** Hooks the checkers use to watch the driver; each throws on a violation. */
export interface NodeObserver {
  beforeSend?: (node: SimNode, rd: Ready) => void
  onApply?: (node: SimNode, e: Entry, hashAfter: number) => void
  onRestoreSnapshot?: (node: SimNode, s: Snapshot, hash: number) => void
  onReady?: (node: SimNode, rd: Ready) => void
  onReadState?: (node: SimNode, rs: ReadState) => void
}

const dec = new TextDecoder()
const enc = new TextEncoder()

export function hashStep (h: number, data: Uint8Array): number {
  let x = h ^ 0x9e3779b9
  for (let i = 0; i < data.length; i++) { x ^= data[i]; x = Math.imul(x, 0x01000193) }
  return x >>> 0
}

export class SimNode {
  raw: RawNode
  storage: MemoryStorage
  up = true
  /** state machine: index of the last applied entry and a hash chain of applied normal commands */
  applied = 0
  hash = 0
  appliedCommands = 0
  conf: ConfState
  private lastSnapIndex = 0
  /** when set, the next Ready is persisted and then the node "crashes" before sending */
  crashAfterPersist = false

  constructor (readonly id: NodeId, storage: MemoryStorage, readonly opts: NodeOptions, private readonly rng: Rng, private readonly obs: NodeObserver = {}) {
    this.storage = storage
    this.conf = storage.initialState().confState
    this.raw = this.boot()
  }

  private boot (): RawNode {
    const snap = this.storage.snapshot()
    this.restoreState(snap)
    this.conf = this.storage.initialState().confState
    return new RawNode({
      id: this.id,
      electionTick: this.opts.electionTick,
      heartbeatTick: this.opts.heartbeatTick,
      storage: this.storage,
      rng: this.rng,
      preVote: this.opts.preVote,
      checkQuorum: this.opts.checkQuorum,
      maxSizePerMsg: this.opts.maxSizePerMsg,
      maxInflightMsgs: this.opts.maxInflightMsgs,
      maxUncommittedEntries: this.opts.maxUncommittedEntries,
      applied: snap.meta.index
    })
  }

  private restoreState (s: Snapshot): void {
    this.applied = s.meta.index
    this.lastSnapIndex = s.meta.index
    if (s.data.length === 0) { this.hash = 0; this.appliedCommands = 0; return }
    const st = JSON.parse(dec.decode(s.data)) as { hash: number, n: number }
    this.hash = st.hash
    this.appliedCommands = st.n
  }

  crash (): void { this.up = false }

  restart (): void {
    this.storage = this.storage.crashCopy()
    this.raw = this.boot()
    this.up = true
    this.crashAfterPersist = false
  }

  /** Process every pending Ready (bounded). Returns the number of Readies handled. */
  drain (send: (m: Message) => void, maxRounds = 100): number {
    let n = 0
    while (this.up && this.raw.hasReady()) {
      if (++n > maxRounds) throw new Error(`${this.id}: Ready loop did not settle after ${maxRounds} rounds`)
      this.handle(this.raw.ready(), send)
    }
    return n
  }

  private handle (rd: Ready, send: (m: Message) => void): void {
    this.obs.onReady?.(this, rd)
    // 1. persist (one durable write)
    if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
      this.storage.save({ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot })
    }
    if (this.crashAfterPersist) { this.crash(); return }
    // 2. send
    this.obs.beforeSend?.(this, rd)
    for (const m of rd.messages) send(m)
    // 3. apply
    if (rd.snapshot !== undefined) {
      this.restoreState(rd.snapshot)
      this.conf = rd.snapshot.meta.conf
      this.obs.onRestoreSnapshot?.(this, rd.snapshot, this.hash)
    }
    for (const e of rd.committedEntries) {
      if (e.index <= this.applied) continue
      if (e.index !== this.applied + 1) throw new Error(`${this.id}: applying ${e.index} after ${this.applied} (gap)`)
      if (e.type === 'conf') this.conf = this.raw.applyConfChange(e)
      else if (e.data.length > 0) { this.hash = hashStep(this.hash, e.data); this.appliedCommands++ }
      this.applied = e.index
      this.obs.onApply?.(this, e, this.hash)
    }
    for (const rs of rd.readStates) this.obs.onReadState?.(this, rs)
    // 4. advance
    this.raw.advance(rd)
    this.maybeSnapshot()
  }

  private maybeSnapshot (): void {
    const every = this.opts.snapshotEvery
    if (every <= 0 || this.applied - this.lastSnapIndex < every) return
    const data = enc.encode(JSON.stringify({ hash: this.hash, n: this.appliedCommands }))
    this.storage.createSnapshot(this.applied, this.conf, data)
    this.lastSnapIndex = this.applied
    const compactTo = this.applied - this.opts.compactLag
    if (compactTo > 0) this.storage.compact(compactTo)
  }
}
