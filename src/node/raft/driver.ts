// The one driver of the pure Raft core in a real node. It owns the timer and honours the pipelined
// Ready contract written on `Ready` in src/protocol/raft/types.ts: write (one sqlite transaction
// per Ready = group commit) → advance → fsync → send → apply, up to MAX_PIPELINED_READIES in flight.
// All calls come from the event loop, so there is no concurrency inside: a single immediate drains
// every Ready produced by the ticks, messages and proposals since the last drain.
// Time and timers come from an injected Scheduler, so the seeded simulator (test/sim) runs this very
// code on simulated time, network and disk.
import { RawNode } from '../../protocol/raft/raw-node.js'
import { concatBytes } from '../../protocol/codec.js'
import type { ConfChange, ConfState, Entry, HardState, Message, RaftConfig, RaftStorage, Ready, ReadState, Role } from '../../protocol/raft/types.js'
import type { Logger } from '../log.js'
import { realScheduler, type CancelTimer, type Scheduler } from '../scheduler.js'
import { describeMessage, describeReady, timeline, TIMELINE_ON } from './timeline.js'

/** Core settings a simulation varies; a real node keeps the defaults below. */
export type RaftTuning = Partial<Pick<RaftConfig, 'heartbeatTick' | 'preVote' | 'checkQuorum' | 'maxSizePerMsg' | 'maxInflightMsgs' | 'maxUncommittedEntries'>>

export interface RaftDriverOptions {
  id: string
  storage: RaftStorage
  tickMs: number
  electionTicks: number
  rng: () => number
  log: Logger
  /** hand a message to the transport (must not throw) */
  send: (msg: Message) => void
  /** apply a committed normal entry (empty data = a leader's no-op) */
  apply: (entry: Entry) => void
  /** called after a conf change entry is applied */
  onConfState?: (cs: ConfState) => void
  onRoleChange?: (role: Role, leaderId: string | null, term: number) => void
  /**
   * The storage refused a write or an fsync (a full disk, an I/O error): this driver has stopped
   * and acknowledged nothing of that Ready; the caller may start a new driver on the same storage
   * once the disk recovers (everything durable is intact: a failed write is rolled back).
   */
  onStorageError?: (err: Error) => void
  /** the state machine's snapshot, and how to restore one received from the leader */
  snapshotData: () => Uint8Array
  /**
   * The snapshot encoded over several turns, as of the entries applied when called (the state
   * machine holds back entries applied meanwhile until it is encoded), in parts whose concatenation
   * is the snapshot (written one after another, never joined where the storage has files); used for the snapshots taken
   * while running, snapshotData for the one before a stop. Without it every snapshot is taken in one go.
   */
  snapshotAsync?: () => Promise<Uint8Array[]>
  /** told once the snapshot snapshotAsync encoded last is stored, as the snapshot of `index` */
  snapshotStored?: (index: number) => void
  restoreSnapshot: (data: Uint8Array, index: number) => void
  /** take a snapshot (and compact the log) every this many applied entries */
  snapshotEntries: number
  /**
   * ... or once the entries applied since the last snapshot hold this many bytes: the leader packs
   * thousands of commands into one entry, so a count alone lets a busy log grow without bound
   * (issue 14: 100,000 echo tasks were ~530 entries and 33 MB of raft.db, never a snapshot). @default Infinity
   */
  snapshotLogBytes?: number
  /** the time a turn's slice of a log compaction aims at @default COMPACT_SLICE_MS */
  compactSliceMs?: number
  /** applied index of the state machine restored from storage's snapshot */
  applied: number
  /** answers to readIndex(), handed out after everything of their Ready is durable and applied */
  onReadState?: (rs: ReadState) => void
  /** @default realScheduler (Node's timers and clock) */
  scheduler?: Scheduler
  /** @default heartbeatTick 3, preVote and checkQuorum on, 1 MiB messages, 256 in flight, no back-pressure */
  tuning?: RaftTuning
}

/**
 * An idle leader's heartbeat every 3 ticks (300 ms at the default tick), not every tick: heartbeats
 * were most of an idle cluster's messages (issue 12: idle CPU 5.3–5.8 % → 3.4–4.6 % of a core per
 * node, alternating runs). Appends and new commit indexes still leave at once, so latency is
 * unchanged; a follower's election timeout (10–20 ticks) still spans 3–6 heartbeats, and the
 * seeded simulator runs heartbeat intervals of 1–3 ticks.
 */
const HEARTBEAT_TICKS = 3

/**
 * A byte-triggered snapshot waits until the log since the last one holds this many times that
 * snapshot's size (and at least snapshotLogBytes). A snapshot encodes the whole state — ~1 s of CPU
 * per 100,000 retained tasks (~40-50 MB) — so with a fixed 32 MiB trigger a busy node with a full
 * retention re-encoded its state for every ~100,000 tasks in batches: a quarter of the nodes' CPU
 * in `--mode batch --tasks 30000` (perf: 47 % of one 6 s window under maybeSnapshot). The log kept
 * between snapshots stays bounded by the state's own size, which retention bounds.
 */
const SNAPSHOT_LOG_FACTOR = 2

/**
 * The entry count (snapshotEntries) starts a snapshot only once the log since the last one holds at
 * least this share of that snapshot's size, so encoding costs at most twice the log's bytes. A
 * snapshot costs its state's size whatever the log holds: with 100,000 retained tasks (~50 MB) and
 * one task per entry, 10,000 entries (~3 MB) meant 1-3.5 s of encoding per 10,000 tasks, and a node
 * holds its applied state back while it encodes (a leader places nothing meanwhile). Small states
 * (under twice what snapshotEntries entries hold) snapshot by the count as before.
 */
const SNAPSHOT_ENTRY_MIN_LOG_SHARE = 0.5

/** Readies whose fsync may be in flight at once (a deeper pipeline only adds latency) */
const MAX_PIPELINED_READIES = 4

/**
 * The log is compacted after a snapshot a slice a turn, each slice about this long: deleting ~30 MB
 * of entries and handing the pages back took 0.1-0.3 s in one go (SqliteStorage), in one turn.
 * Entries are 100 bytes to 2 MiB, and deleting one costs about its size, so the slice is counted
 * in entries and adapts: one entry first, twice as many after a slice under half the budget, half
 * as many after one over it.
 */
const COMPACT_SLICE_MS = 8

export class RaftDriver {
  readonly raft: RawNode
  private readonly opts: RaftDriverOptions
  private readonly sched: Scheduler
  /** ticks up to this monotonic time have been given to the core (a grid of tickMs from start()) */
  private tickedTo = 0
  /** the one timer, armed for the core's next timer event (see armTimer), and when it fires */
  private cancelTimer?: CancelTimer
  private timerAt = Infinity
  private scheduled = false
  private stopped = false
  /** Readies written and advanced, waiting for their fsync; finished strictly in order */
  private pending = 0
  private chain: Promise<void> = Promise.resolve()
  /** Readies in the chain whose messages did not all leave early (see sendEarly) */
  private heldBack = 0
  /** last log index written (durable or not), the highest index and term known durable, and a counter of log overwrites */
  private writtenIndex: number
  private durableIndex: number
  private durableTerm: number
  private logEpoch = 0
  /** the fsync in progress, and the one every write since it started waits for (see durable()) */
  private fsyncRunning?: Promise<void>
  private nextFsync?: Promise<void>
  private applied: number
  private lastSnapshotIndex: number
  /** entry bytes applied since the last snapshot (see snapshotLogBytes) */
  private bytesSinceSnapshot = 0
  /** the size of the last snapshot taken or restored (see SNAPSHOT_LOG_FACTOR) */
  private lastSnapshotBytes: number
  /** the snapshot being encoded (snapshotAsync) and stored, settled once it is stored or given up */
  private snapshotRun?: Promise<void>
  /** the log is being compacted up to compactTarget, a slice a turn (see compactTo) */
  private compacting = false
  private compactTarget = 0
  private role: Role = 'follower'
  private leader: string | null = null
  private confState: ConfState
  /** the last hard state written (durable or on its way): a commit-only Ready changes just .commit */
  private lastHard: HardState
  leaderChanges = 0
  /** counters for the debug stats line and /metrics */
  readonly stats = { readies: 0, fsyncs: 0, maxPipelined: 0, earlyPipelined: 0, entriesWritten: 0, entriesApplied: 0, flushMs: 0, saveMs: 0, applyMs: 0, bytesWritten: 0 }

  constructor (opts: RaftDriverOptions) {
    this.opts = opts
    this.sched = opts.scheduler ?? realScheduler
    const init = opts.storage.initialState()
    this.lastHard = init.hardState
    // what storage holds at start is what survived: durable
    this.writtenIndex = this.durableIndex = opts.storage.lastIndex()
    this.durableTerm = init.hardState.term
    this.confState = init.confState
    this.applied = opts.applied
    this.lastSnapshotIndex = opts.applied
    this.lastSnapshotBytes = opts.storage.snapshot().data.byteLength
    this.raft = new RawNode({
      id: opts.id,
      electionTick: opts.electionTicks,
      // a short election timeout (tests, --election-ticks) keeps at least 3 heartbeats inside it
      heartbeatTick: Math.max(1, Math.min(HEARTBEAT_TICKS, Math.floor(opts.electionTicks / 3))),
      storage: opts.storage,
      rng: opts.rng,
      preVote: true,
      checkQuorum: true,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      applied: opts.applied,
      ...opts.tuning
    })
  }

  /**
   * Ticks are counted, not timed one by one: the driver sleeps until the core's next timer event
   * (a follower's election deadline, a leader's next heartbeat) and gives the core the ticks that
   * passed before every message. An idle follower woke 10 times a second for ticks that only
   * counted (issue 12's wake-ups); now once per heartbeat it receives, plus its deadline if no
   * heartbeat comes. The same ticks reach the core at the same points of the tick grid as a
   * fixed-period timer would give them.
   */
  start (): void {
    this.tickedTo = this.sched.monotonicMs()
    this.schedule()
  }

  stop (): void {
    this.stopped = true
    this.cancelTimer?.()
    this.cancelTimer = undefined
  }

  get isLeader (): boolean { return this.role === 'leader' }
  get leaderId (): string | null { return this.leader }
  get appliedIndex (): number { return this.applied }
  /** every entry of this node's log has been handed to the state machine (nothing proposed or received is still on its way) */
  get logApplied (): boolean { return this.raft.lastIndex() === this.applied }
  get conf (): ConfState { return this.confState }

  step (msg: Message): void {
    if (this.stopped) return
    if (TIMELINE_ON) timeline(this.opts.id, `recv ${describeMessage(msg)}`)
    this.countTicks(this.sched.monotonicMs(), false)
    try { this.raft.step(msg) } catch (err) { this.opts.log.debug('raft step dropped', msg.type, err) }
    this.schedule()
  }

  /** Start an election now (a single-voter cluster need not wait out an election timeout). */
  campaign (): void {
    if (this.stopped) return
    this.raft.campaign()
    this.schedule()
  }

  /** Propose one entry. Throws when this node is not the leader. */
  propose (data: Uint8Array): void {
    if (this.stopped) throw new Error('raft is stopped on this node')
    this.raft.propose(data)
    this.schedule()
  }

  proposeConfChange (cc: ConfChange): void {
    this.raft.proposeConfChange(cc)
    this.schedule()
  }

  transferLeadership (to: string): void {
    this.raft.transferLeadership(to)
    this.schedule()
  }

  /** Ask for a linearizable read point; the answer comes to onReadState. Throws when dropped. */
  readIndex (context: Uint8Array): void {
    this.raft.readIndex(context)
    this.schedule()
  }

  /** a snapshot we sent was delivered (or not): the core resumes replication to that peer */
  reportSnapshot (peer: string, ok: boolean): void {
    try { this.raft.reportSnapshot(peer, ok) } catch { /* unknown peer */ }
    this.schedule()
  }

  reportUnreachable (peer: string): void {
    try { this.raft.reportUnreachable(peer) } catch { /* unknown peer */ }
  }

  /**
   * Gives the core the whole ticks of the grid up to `now`. Only the timer (`fire`) lets them reach
   * the core's next timer event; a message brings the count up to one tick short of it. After the
   * event loop stalled past a deadline, the messages that waited in the sockets (the leader's
   * heartbeats) are read before the timer's turn (it runs as an immediate), so a stall alone does
   * not start an election — as a fixed-period timer, which skips the ticks a stall swallowed, did
   * not either. At most one event per call; ticks beyond it are dropped.
   */
  private countTicks (now: number, fire: boolean): void {
    const passed = Math.floor((now - this.tickedTo) / this.opts.tickMs)
    if (passed <= 0) return
    this.tickedTo += passed * this.opts.tickMs
    const untilEvent = this.raft.ticksUntilTimerEvent()
    // a node that can never campaign counts only what the leader lease looks at
    const n = untilEvent === Infinity ? Math.min(passed, this.opts.electionTicks) : Math.min(passed, fire ? untilEvent : untilEvent - 1)
    for (let i = 0; i < n; i++) this.raft.tick()
  }

  /** (Re)arms the timer for the core's next timer event if it is sooner than the armed one. */
  private armTimer (): void {
    if (this.stopped) return
    const ticks = this.raft.ticksUntilTimerEvent()
    const at = ticks === Infinity ? Infinity : this.tickedTo + ticks * this.opts.tickMs
    // a later deadline (a heartbeat arrived) keeps the armed timer: it re-arms when it fires
    if (at >= this.timerAt) return
    this.cancelTimer?.()
    this.cancelTimer = undefined
    this.timerAt = at
    if (at === Infinity) return
    this.cancelTimer = this.sched.timeout(() => {
      this.cancelTimer = undefined
      const due = this.timerAt
      this.timerAt = Infinity
      // in the check phase, after this turn's socket reads (see countTicks)
      this.sched.immediate(() => {
        if (this.stopped) return
        // a timer may fire a fraction of a ms early (ms rounding): it was due, count it as such
        this.countTicks(Math.max(this.sched.monotonicMs(), due), true)
        this.schedule()
      })
    }, Math.max(0, at - this.sched.monotonicMs()), { unref: true })
  }

  schedule (): void {
    if (this.scheduled || this.stopped) return
    this.scheduled = true
    this.sched.immediate(() => { this.scheduled = false; this.drain() })
  }

  private drain (): void {
    // Bounded: a Ready loop that never settles is a bug in the core; 64 rounds is far beyond normal.
    for (let i = 0; i < 64 && !this.stopped && this.pending < MAX_PIPELINED_READIES && this.raft.hasReady(); i++) {
      const rd = this.raft.ready()
      // the term this Ready's soft state belongs to: by the time it is finished the core may have
      // moved to a later term (it was advanced before the fsync), and a leader of term t must not
      // be reported as leader of t+1, a term another node may lead
      const term = this.raft.raft.term
      this.stats.readies++
      this.stats.entriesWritten += rd.entries.length
      this.stats.entriesApplied += rd.committedEntries.length
      // A commit index in these messages was computed counting the leader's own entries, which
      // must be on its disk before any follower may learn (and apply) that commit: see sendEarly.
      const sentEarly = this.sendEarly(rd)
      const commitOnly = this.commitOnly(rd)
      if (TIMELINE_ON) timeline(this.opts.id, `${describeReady(rd, this.pending)} sentEarly=${sentEarly} commitOnly=${commitOnly}`)
      let wrote: boolean
      try {
        wrote = this.write(rd)
      } catch (err) {
        // Nothing of this Ready may be acknowledged, voted or applied: stop before anything more
        // leaves (the appends sent early carry no commit index that counts these entries).
        this.storageFailed('a write', err as Error)
        return
      }
      const flush = this.opts.storage.flush
      // A Ready whose only durable change is the commit index need not wait for its fsync (rule g
      // on Ready): commitIndex is volatile state in Raft, what it names is already durable on a
      // majority, and D(k-1) holds. This takes an fsync off every follower's apply of a commit the
      // leader announces, and off the leader's apply once a follower acknowledges.
      if (this.pending === 0 && (!wrote || flush === undefined || commitOnly)) {
        this.finish(rd, sentEarly, term)
        this.raft.advance(rd)
        this.maybeSnapshot()
        continue
      }
      // The fsync runs off the event loop. We advance the core now, so it can hand out the next
      // Ready (and the next write and fsync can start) while this one's is on the way; everything
      // that must wait for the disk (acknowledgements, votes, applying) waits in finish(), which
      // runs strictly in order, after this Ready's fsync and every earlier one. An fsync of the
      // WAL makes everything written before it durable, so the order of completion is safe.
      // A commit-only Ready behind a pending one needs no fsync of its own either (rule g): it is
      // finished right after Ready k-1, whose D(k-1) covers every entry it names. Measured (issue 12,
      // RC_RAFT_TRACE): a follower learning commits while an append's fsync ran queued one more
      // fsync per commit, and its next append's fsync waited behind it.
      this.raft.advance(rd)
      this.finishAfterFsync(rd, sentEarly, term, wrote && flush !== undefined && !commitOnly)
    }
    // every input to the core ends in a drain: its next timer event may have come closer
    this.armTimer()
  }

  /** queue this Ready's finish() behind its fsync and every earlier Ready's finish */
  private finishAfterFsync (rd: Ready, sentEarly: number, term: number, needsFsync: boolean): void {
    this.pending++
    const held = sentEarly < rd.messages.length
    if (held) this.heldBack++
    if (this.pending > this.stats.maxPipelined) this.stats.maxPipelined = this.pending
    const t0 = this.sched.monotonicMs()
    const flushed = needsFsync ? this.durable() : Promise.resolve()
    this.chain = this.chain.then(async () => { await flushed }).then(() => {
      this.pending--
      if (held) this.heldBack--
      this.stats.flushMs += this.sched.monotonicMs() - t0
      if (this.stopped) return
      try {
        this.finish(rd, sentEarly, term)
        this.maybeSnapshot()
      } catch (err) {
        // a bug (or a state machine that cannot apply): say what failed, not "fsync failed" as
        // the next Ready's handler would, and stop before anything later is acknowledged
        this.opts.log.error("raft: finishing a Ready failed; stopping this node's Raft", err)
        this.stop()
        return
      }
      this.schedule()
    }, err => {
      // A disk that cannot fsync cannot hold Raft state: stop rather than acknowledge anything.
      this.storageFailed('an fsync', err as Error)
    })
  }

  /**
   * Group commit across Readies: resolves once an fsync that STARTED after this call has finished
   * (an fsync of the WAL makes everything written before it durable). While one fsync runs, every
   * Ready written meanwhile shares the next one instead of queueing an fsync each: under load this
   * node issues at most one fsync at a time. Measured (issue 12): 0.2–0.35 fsyncs per task on each
   * node, and handing one to the thread pool blocked the event loop for 6–8 ms in a third of the
   * calls on a loaded 2-core machine; the fsyncs of one file run one after another in the kernel
   * anyway, so several in flight bought nothing.
   */
  private durable (): Promise<void> {
    if (this.nextFsync !== undefined) return this.nextFsync
    if (this.fsyncRunning === undefined) return this.startFsync()
    this.nextFsync = this.fsyncRunning.then(() => undefined, () => undefined).then(() => {
      this.nextFsync = undefined
      return this.startFsync()
    })
    return this.nextFsync
  }

  private startFsync (): Promise<void> {
    const covers = { epoch: this.logEpoch, index: this.writtenIndex, term: this.lastHard.term }
    const p = this.opts.storage.flush!.call(this.opts.storage)
    this.stats.fsyncs++
    this.fsyncRunning = p
    const clear = (): void => { if (this.fsyncRunning === p) this.fsyncRunning = undefined }
    if (TIMELINE_ON) timeline(this.opts.id, `fsync start covers=${covers.index}`)
    p.then(() => {
      if (TIMELINE_ON) timeline(this.opts.id, `fsync done covers=${covers.index}`)
      clear()
      this.noteDurable(covers)
    }, clear)
    return p
  }

  /** an fsync finished: what was written before it started is durable (unless the log was overwritten since) */
  private noteDurable (covers: { epoch: number, index: number, term: number }): void {
    if (covers.term > this.durableTerm) this.durableTerm = covers.term
    if (covers.epoch === this.logEpoch && covers.index > this.durableIndex) {
      this.durableIndex = covers.index
      this.durabilityAdvanced()
    }
  }

  /**
   * Commit inference (src/protocol/raft/commit-inference.ts), the leader's half: tell the followers
   * it may certify to that its log is durable up to here, unless its commit index already covers it
   * (the commit reaches them with the next append). The follower's half is in finish().
   */
  private durabilityAdvanced (): void {
    if (this.stopped) return
    const core = this.raft.raft
    const durable = this.certifiedDurable()
    if (core.role !== 'leader' || durable <= core.log.committed) return
    for (const to of core.trk.voters) {
      if (this.raft.durableTold(to) >= durable || !this.raft.mayCertifyDurable(to, this.applied)) continue
      this.raft.noteDurableTold(to, durable)
      this.opts.send({ type: 'durable', from: core.id, to, term: core.term, index: durable })
    }
  }

  /** how far this leader tells followers its log is durable (one place, so the simulator's sabotage test can make it lie) */
  private certifiedDurable (): number { return this.durableIndex }

  /** send one of the core's messages; a leader's append says how far its log is durable, when it may */
  private out (m: Message): void {
    if (m.type === 'app' && this.durableIndex > 0) {
      const core = this.raft.raft
      if (m.term === core.term && this.raft.mayCertifyDurable(m.to, this.applied)) {
        const durable = this.certifiedDurable()
        m.durable = durable
        this.raft.noteDurableTold(m.to, durable)
      }
    }
    this.opts.send(m)
  }

  /**
   * A leader's appends may leave before its own write reaches the disk (Raft thesis 10.2.1):
   * followers write in parallel with us. Nothing is acknowledged, voted or applied before our write
   * is durable, so a crash in between is an ordinary leader crash. But the commit index an append
   * or heartbeat carries counts the leader's own copies, so it may leave only once the leader's log
   * is durable up to that index, in a term that is durable too (rule b on Ready).
   * A message goes only if its commit index and term are already durable here — with no fsync
   * pending that is every earlier write, but not this Ready's own (a sole voter's commit covers
   * them) — and, while pipelining, only when no earlier Ready still holds messages back (they
   * would be overtaken: a follower rejects an append that skips one, and the leader probes).
   * Measured (issue 12, latency bench): a result's entry proposed while the assignment's fsync ran
   * waited for that fsync before its appends left; now followers write it in parallel. Returns how
   * many messages were sent (a prefix of rd.messages).
   */
  private sendEarly (rd: Ready): number {
    const pipelined = this.pending > 0
    if (pipelined && this.heldBack > 0) return 0
    let n = 0
    for (const m of rd.messages) {
      if (m.type !== 'app' && m.type !== 'heartbeat' && m.type !== 'snap') break
      // Checked with no fsync pending too: a sole voter commits its entries as it appends them, so
      // the commit index its appends carry to learners covers this very Ready's entries (found by
      // the driver simulator, seed 10386: one voter and a learner, the learner told commit 104
      // before the leader's 104 was written).
      if ((m.commit ?? 0) > this.durableIndex || m.term > this.durableTerm) break
      this.out(m)
      n++
    }
    if (pipelined) this.stats.earlyPipelined += n
    return n
  }

  private storageFailed (what: string, err: Error): void {
    if (this.stopped) return
    this.opts.log.error(`raft storage: ${what} failed (${err.message}); stopping this node's Raft`)
    this.stop()
    this.opts.onStorageError?.(err)
  }

  /** the Ready writes nothing but a new commit index (same term and vote as the last hard state written) */
  private commitOnly (rd: Ready): boolean {
    const h = rd.hardState
    if (rd.entries.length > 0 || rd.snapshot !== undefined || h === undefined) return false
    const same = h.term === this.lastHard.term && h.vote === this.lastHard.vote
    return same
  }

  /** write the Ready (without waiting for the disk when the storage defers its fsync) */
  private write (rd: Ready): boolean {
    if (rd.entries.length === 0 && rd.hardState === undefined && rd.snapshot === undefined) return false
    const t0 = this.sched.monotonicMs()
    this.opts.storage.save({ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot })
    if (rd.hardState !== undefined) this.lastHard = rd.hardState
    this.noteWritten(rd)
    this.stats.saveMs += this.sched.monotonicMs() - t0
    for (const e of rd.entries) this.stats.bytesWritten += e.data.byteLength
    return true
  }

  /** what the log holds now (written, maybe not durable); an overwrite lowers what counts as durable */
  private noteWritten (rd: Ready): void {
    if (rd.snapshot !== undefined) {
      // the log was replaced: nothing of it counts as durable until an fsync started after this
      this.logEpoch++
      this.durableIndex = 0
      this.writtenIndex = Math.max(this.writtenIndex, rd.snapshot.meta.index)
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index
      if (first <= this.writtenIndex) { // a follower's conflicting suffix is overwritten
        this.logEpoch++
        this.durableIndex = Math.min(this.durableIndex, first - 1)
      }
      this.writtenIndex = rd.entries[rd.entries.length - 1]!.index
    }
    if (this.opts.storage.flush === undefined) { // such a storage is durable when save() returns
      const advanced = this.writtenIndex > this.durableIndex
      this.durableIndex = this.writtenIndex
      this.durableTerm = this.lastHard.term
      if (advanced) this.durabilityAdvanced()
    }
  }

  /** after the disk: send the rest, apply (the caller advances) */
  private finish (rd: Ready, sentEarly: number, term: number): void {
    if (TIMELINE_ON) timeline(this.opts.id, `finish committed=${rd.committedEntries.length} sendNow=${rd.messages.length - sentEarly}`)
    for (let i = sentEarly; i < rd.messages.length; i++) this.out(rd.messages[i]!)
    if (rd.snapshot !== undefined && rd.snapshot.meta.index > this.applied) {
      this.opts.restoreSnapshot(rd.snapshot.data, rd.snapshot.meta.index)
      this.applied = rd.snapshot.meta.index
      this.lastSnapshotIndex = this.applied
      this.lastSnapshotBytes = rd.snapshot.data.byteLength
      this.bytesSinceSnapshot = 0
      this.confState = rd.snapshot.meta.conf
      this.opts.onConfState?.(this.confState)
    }
    const t0 = this.sched.monotonicMs()
    for (const e of rd.committedEntries) {
      if (e.index <= this.applied) continue
      if (e.type === 'conf') {
        this.confState = this.raft.applyConfChange(e)
        this.opts.onConfState?.(this.confState)
      } else {
        this.opts.apply(e)
      }
      this.bytesSinceSnapshot += e.data.byteLength
      this.applied = e.index
    }
    this.stats.applyMs += this.sched.monotonicMs() - t0
    if (TIMELINE_ON && rd.committedEntries.length > 0) timeline(this.opts.id, `applied in ${(this.sched.monotonicMs() - t0).toFixed(3)} ms`)
    for (const rs of rd.readStates) this.opts.onReadState?.(rs)
    if (rd.softState !== undefined) this.noteSoftState(rd.softState.role, rd.softState.leader, term)
    // Commit inference, the follower's half: hand the core what is durable here; a commit it infers
    // is applied by the next drain. Here, after this Ready's acknowledgement was queued, so that it
    // leaves first (the frame writer flushes on the next setImmediate, and the drain is scheduled
    // after it): applying an entry took the follower up to 5 ms, and the leader's round waited for
    // that acknowledgement (latency bench, RC_RAFT_TRACE).
    if (this.raft.raft.role === 'follower') this.raft.localDurable(this.durableIndex)
  }

  private noteSoftState (role: Role, leader: string | null, term: number): void {
    if (leader !== this.leader) this.leaderChanges++
    const changed = role !== this.role || leader !== this.leader
    this.role = role
    this.leader = leader
    if (changed) this.opts.onRoleChange?.(role, leader, term)
  }

  /**
   * Before a graceful stop (after the leadership hand-over): a snapshot of what is applied when over
   * 1 MiB of log came since the last one, so the next start restores it instead of replaying that
   * log (issue 14: a follower restarted after the soak replayed 168 entries / 16 MB, ~3 s of CPU).
   * Taken as the others are, in slices and to a file where the state machine and storage can (at 50
   * MB it held the event loop 2.8-3.1 s in one go); one under way is let finish first. Resolves once
   * it is stored (or given up).
   */
  async snapshotBeforeStop (): Promise<void> {
    if (this.snapshotRun !== undefined) await this.snapshotRun
    if (this.bytesSinceSnapshot < 1024 * 1024) return
    this.maybeSnapshot(true)
    await this.snapshotRun
  }

  private maybeSnapshot (force = false): void {
    if (this.stopped) return // e.g. stopped by the state machine halting at an entry it could not apply
    if (this.snapshotRun !== undefined) return
    const since = this.applied - this.lastSnapshotIndex
    const byteTrigger = Math.max(this.opts.snapshotLogBytes ?? Infinity, SNAPSHOT_LOG_FACTOR * this.lastSnapshotBytes)
    const countDue = since >= this.opts.snapshotEntries && this.bytesSinceSnapshot >= SNAPSHOT_ENTRY_MIN_LOG_SHARE * this.lastSnapshotBytes
    if (!force && !countDue && this.bytesSinceSnapshot < byteTrigger) return
    // A snapshot from the leader may already be written by a later Ready still waiting for its
    // fsync (pipelining): ours would be older than the storage's, which refuses it. That one is
    // restored when its Ready finishes.
    if (this.opts.storage.snapshot().meta.index >= this.applied) return
    const index = this.applied
    const conf = this.confState
    const counted = this.bytesSinceSnapshot
    if (this.opts.snapshotAsync === undefined) {
      const data = this.opts.snapshotData()
      this.storeSnapshot(index, since, counted, data.byteLength, () => { this.opts.storage.createSnapshot(index, conf, data) })
      return
    }
    // A snapshot of a full retention takes seconds to encode: in one go it held the event loop
    // longer than an election timeout (docs/performance.md). In slices, the node keeps answering.
    // Its bytes go to a file of their own on the thread pool where the storage can (SqliteStorage:
    // writing 50 MB into the database held the event loop ~0.7-1.5 s), and only the row is written here.
    const storage = this.opts.storage
    const superseded = (): boolean => this.stopped || storage.snapshot().meta.index >= index // a newer one came from the leader
    this.snapshotRun = this.opts.snapshotAsync().then(async parts => {
      if (superseded()) return
      const bytes = parts.reduce((n, p) => n + p.byteLength, 0)
      if (storage.writeSnapshotFile === undefined || storage.createSnapshotFromFile === undefined) {
        const data = concatBytes(parts)
        this.storeSnapshot(index, since, counted, bytes, () => { storage.createSnapshot(index, conf, data); this.opts.snapshotStored?.(index) })
        return
      }
      let file: string
      try {
        file = await storage.writeSnapshotFile(index, parts)
      } catch (err) {
        this.storageFailed('writing a snapshot file', err as Error)
        return
      }
      if (superseded()) { await storage.discardSnapshotFile?.(file); return }
      this.storeSnapshot(index, since, counted, bytes, () => { storage.createSnapshotFromFile!(index, conf, file); this.opts.snapshotStored?.(index) })
    }, (err: Error) => {
      // given up for a snapshot in one go or one from the leader (the state machine says so): not a failure
      if (err.name !== 'SnapshotAbandonedError') this.opts.log.warn('raft: encoding a snapshot failed; the log is kept as it is', err)
    }).finally(() => { this.snapshotRun = undefined })
  }

  /**
   * `create` stores the snapshot of `index` (`bytes` long); then the log is compacted. `counted`:
   * the entry bytes counted since the last snapshot when this one's state was taken.
   */
  private storeSnapshot (index: number, since: number, counted: number, bytes: number, create: () => void): void {
    try {
      create()
    } catch (err) {
      // the snapshot is an optimisation: a failed one (full disk) leaves the log as it was
      this.storageFailed('a snapshot', err as Error)
      return
    }
    this.lastSnapshotIndex = index
    this.lastSnapshotBytes = bytes
    this.bytesSinceSnapshot = Math.max(0, this.bytesSinceSnapshot - counted)
    // keep a tail of entries so slightly-behind followers catch up without a full snapshot
    // (at most half of what came since the last snapshot: a byte-triggered one has few, big entries)
    const keep = Math.min(5000, Math.floor(this.opts.snapshotEntries / 2), Math.floor(since / 2))
    if (index - keep > this.opts.storage.firstIndex()) this.compactTo(index - keep)
  }

  /**
   * Drops the log up to `target` (never past the stored snapshot), a slice of about
   * COMPACT_SLICE_MS a turn, the first slice now. A later target extends a compaction under way; a snapshot from the
   * leader (which drops the whole log) ends it.
   */
  private compactTo (target: number): void {
    this.compactTarget = Math.max(this.compactTarget, target)
    if (this.compacting) return
    this.compacting = true
    const budget = this.opts.compactSliceMs ?? COMPACT_SLICE_MS
    let n = 1
    const step = (): void => {
      const storage = this.opts.storage
      if (this.stopped) { this.compacting = false; return } // (its storage may be closed)
      const upTo = Math.min(this.compactTarget, storage.snapshot().meta.index)
      const first = storage.firstIndex()
      if (first > upTo) { this.compacting = false; return }
      const t0 = this.sched.monotonicMs()
      try {
        storage.compact(Math.min(upTo, first - 1 + n))
      } catch (err) {
        this.compacting = false
        this.storageFailed('compacting the log', err as Error)
        return
      }
      const took = this.sched.monotonicMs() - t0
      if (took < budget / 2) n *= 2
      else if (took > budget) n = Math.max(1, n >> 1)
      this.sched.immediate(step)
    }
    step()
  }
}
