// A RaftStorage with the crash model of src/node/raft/sqlite-storage.ts in `deferredSync` mode:
// every save()/createSnapshot()/compact() is a committed transaction appended to the WAL but not
// fsynced; flush() fsyncs on the thread pool and makes every write issued before it durable. A crash
// keeps the durable state plus some prefix of the later writes (a process crash keeps what reached
// the OS, a power cut loses it; the WAL's checksummed frames mean the survivors are a prefix).
// Reads see every write, as sqlite's do. The fsync latency is simulated on a SimScheduler.
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import type { ConfState, Entry, HardState, RaftStorage, Snapshot } from '../../src/protocol/raft/types.js'
import type { SimScheduler } from './sim-scheduler.js'

type Op =
  | { kind: 'save', entries?: Entry[], hardState?: HardState, snapshot?: Snapshot }
  | { kind: 'snapshot', index: number, conf: ConfState, data: Uint8Array }
  | { kind: 'compact', index: number }

export interface SimDiskEnv {
  sched: SimScheduler
  /** ms one fsync takes (drawn per call by the simulator) */
  fsyncMs: () => number
  /** ms the whole device stalls from now, 0 for none (drawn per fsync; every fsync waits it out) */
  stallMs: () => number
  /** told about each write before it happens (the checkers, and a crash "right after this write") */
  onSave?: (entries: readonly Entry[]) => void
  afterSave?: () => void
}

function replay (st: MemoryStorage, op: Op): void {
  if (op.kind === 'save') st.save(op)
  else if (op.kind === 'snapshot') st.createSnapshot(op.index, op.conf, op.data)
  else st.compact(op.index)
}

export class SimDisk implements RaftStorage {
  /** what the process sees: every write, synced or not */
  private readonly live: MemoryStorage
  /** what survives any crash: writes covered by a completed fsync */
  readonly durable: MemoryStorage
  /** writes after the durable state, in order; unsynced[0] is write number `syncedOps` */
  private unsynced: Op[] = []
  private syncedOps = 0
  /** fsyncs issued and not yet completed (the driver bounds its pipeline by this) */
  inFlight = 0
  maxInFlight = 0
  fsyncs = 0
  /** after a crash nothing completes any more */
  dead = false
  /** a stalled device completes no fsync before this simulated ms */
  private stalledUntilMs = 0

  constructor (durable: MemoryStorage, private readonly env: SimDiskEnv) {
    this.durable = durable
    this.live = durable.crashCopy()
  }

  initialState (): { hardState: HardState, confState: ConfState } { return this.live.initialState() }
  entries (lo: number, hi: number, maxBytes?: number): Entry[] { return this.live.entries(lo, hi, maxBytes) }
  term (i: number): number { return this.live.term(i) }
  firstIndex (): number { return this.live.firstIndex() }
  lastIndex (): number { return this.live.lastIndex() }
  snapshot (): Snapshot { return this.live.snapshot() }

  save (u: { entries?: Entry[], hardState?: HardState, snapshot?: Snapshot }): void {
    this.env.onSave?.(u.entries ?? [])
    const op: Op = { kind: 'save', entries: u.entries?.slice(), hardState: u.hardState === undefined ? undefined : { ...u.hardState }, snapshot: u.snapshot }
    this.live.save(op)
    this.unsynced.push(op)
    this.env.afterSave?.()
  }

  createSnapshot (index: number, conf: ConfState, data: Uint8Array): Snapshot {
    const s = this.live.createSnapshot(index, conf, data)
    this.unsynced.push({ kind: 'snapshot', index, conf: { voters: [...conf.voters], learners: [...conf.learners] }, data })
    return s
  }

  compact (compactIndex: number): void {
    this.live.compact(compactIndex)
    this.unsynced.push({ kind: 'compact', index: compactIndex })
  }

  /** fsync: every write issued so far is durable once the promise resolves */
  flush (): Promise<void> {
    const upTo = this.syncedOps + this.unsynced.length
    this.inFlight++
    this.fsyncs++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    const now = this.env.sched.elapsedMs
    const stall = this.env.stallMs()
    if (stall > 0) this.stalledUntilMs = Math.max(this.stalledUntilMs, now + stall)
    const doneAt = Math.max(now + this.env.fsyncMs(), this.stalledUntilMs)
    return new Promise(resolve => {
      this.env.sched.timeout(() => {
        if (this.dead) return // the process is gone: nobody is waiting any more
        this.syncTo(upTo)
        this.inFlight--
        resolve()
        this.env.sched.wake()
      }, doneAt - now)
    })
  }

  close (): void { this.live.close() }

  private syncTo (upTo: number): void {
    const n = upTo - this.syncedOps
    if (n <= 0) return // a later fsync finished first and covered this one
    for (const op of this.unsynced.slice(0, n)) replay(this.durable, op)
    this.unsynced = this.unsynced.slice(n)
    this.syncedOps = upTo
  }

  get unsyncedWrites (): number { return this.unsynced.length }

  /** The storage a restarted process finds: the durable state plus the first `keep` later writes. */
  crashImage (keep: number): MemoryStorage {
    this.dead = true
    const st = this.durable.crashCopy()
    for (const op of this.unsynced.slice(0, Math.max(0, Math.min(keep, this.unsynced.length)))) replay(st, op)
    return st
  }
}
