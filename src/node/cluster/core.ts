// The replicated part of a node: the cluster state machine driven by the Raft log. The leader
// batches commands: every command proposed in one event-loop turn goes into as few log entries as
// the entry caps allow (an entry's data is an encoded Command[]), so 10,000 submissions cost a
// handful of fsyncs, not 10,000.
//
// Two promises, one each way:
// - Nothing is proposed that the entry decoder would refuse. Each entry is encoded and then run
//   through decodeCommands — the very function every node applies it with — before it is proposed.
//   A command that fails is cut out (the batch is split until it stands alone), its caller gets an
//   UnproposableCommandError at once, and the other commands go ahead in entries of their own.
// - A committed entry is never skipped. One that still cannot be decoded or applied is a bug: the
//   core halts (`halted`, logged at error level with the index), applies nothing after it, and tells
//   the node (onHalt), which stops its Raft. Skipping it would lose every acknowledged command in
//   it, and diverge from any node that could read it.
import { encodeCommands, decodeCommands, concatBytes } from '../../protocol/codec.js'
import { DecodeError, EncodeError } from '../../protocol/errors.js'
import { ENTRY_FLUSH_COMMANDS, ENTRY_PACK_TARGET_BYTES, MAX_COMMANDS_PER_ENTRY } from '../../protocol/limits.js'
import { ClusterState, freezeEndedRecordsByDefault } from '../../sched/state-machine.js'
import type { ApplyOutcome, ClusterEvent, Command } from '../../sched/commands.js'
import type { Entry } from '../../protocol/raft/types.js'
import { NodeHaltedError, NoLeaderError, UnproposableCommandError, WaitTimeoutError } from '../errors.js'
import type { Logger } from '../log.js'
import { realScheduler, type CancelTimer, type Scheduler } from '../scheduler.js'
import { decodeSnapshot, ReusedPieceMismatchError, sliceDecoder, sliceEncoder, SNAPSHOT_SLICE_ITEMS } from './snapshot-codec.js'
import { EndedTaskPieces, type StoredSnapshotReader } from './snapshot-pieces.js'

// Checks that cost time, for test runs (the test command sets it, and nodes the tests start inherit
// it): ended task records are frozen, so a change in place throws (see changeable in
// src/sched/state/records.ts), and every snapshot piece reused from the last snapshot is encoded
// again and compared (snapshot-pieces.ts).
export const CHECK_INVARIANTS = process.env.RC_CHECK_INVARIANTS === '1'
if (CHECK_INVARIANTS) freezeEndedRecordsByDefault(true)

/** How long proposeAndWait waits when its caller gives no deadline (leader-internal proposals). */
export const DEFAULT_PROPOSE_WAIT_MS = 10_000

/**
 * Entries held during a snapshot are applied this many bytes of them a turn (at least one entry):
 * the ~8,000 commands held during one snapshot of the batch bench took 130-540 ms in one turn.
 */
const HELD_APPLY_BYTES_PER_TURN = 64 * 1024

interface Waiter { resolve: (o: ApplyOutcome) => void, reject: (e: Error) => void, timer: CancelTimer }

export type EventListener = (e: ClusterEvent, index: number) => void

export interface ClusterCoreOptions {
  /** items of the snapshot encoded a turn (see snapshot-codec.ts) @default SNAPSHOT_SLICE_ITEMS */
  snapshotSliceItems?: number
  /** runs the next piece of a snapshot: the next turn by default; the simulator stretches it over time */
  nextSlice?: (fn: () => void) => void
  /** entries held during a snapshot are applied this many bytes of them a turn @default HELD_APPLY_BYTES_PER_TURN */
  heldApplyBytesPerTurn?: number
}

/** A snapshot in slices was given up: a snapshot in one go, or one from the leader, came first. */
export class SnapshotAbandonedError extends Error {
  constructor (why: string) { super(`snapshot abandoned: ${why}`); this.name = 'SnapshotAbandonedError' }
}

/** Why and where this node stopped applying the log. */
export interface HaltInfo { index: number, reason: string }

export class ClusterCore {
  state: ClusterState
  private buf: Command[] = []
  /**
   * This leader's own entries, decoded when they were checked before proposing (packEntries), by
   * their bytes: applying them needs no second decode. The Raft log hands the applier the very
   * Uint8Array proposed (SqliteStorage keeps the newest entries as written); anything else (a copy
   * received, an entry read back from disk) is decoded as usual. Weak: an entry that never commits
   * (a deposed leader's) takes its decoding with it. Used once, then dropped.
   */
  private readonly decodedAtProposal = new WeakMap<Uint8Array, Command[]>()
  private flushScheduled = false
  private readonly waiters = new Map<string, Waiter>()
  private readonly listeners = new Set<EventListener>()
  private readonly haltListeners = new Set<(h: HaltInfo) => void>()
  private readonly restoreListeners = new Set<() => void>()
  private proposeFn?: (data: Uint8Array) => void
  private logAppliedFn?: () => boolean
  private flushHook?: (cmds: readonly Command[]) => Command[] | undefined
  /** told, after a turn's entries were all handed to Raft, the commands in them as every node will apply them */
  private proposedHook?: (cmds: readonly Command[]) => void
  appliedCommands = 0
  /** Set once a committed entry could not be applied; from then on nothing is applied. */
  halted?: HaltInfo
  /**
   * Entries handed to applyEntry while a snapshot is encoded in slices: the snapshot shares objects
   * with the live state, so they wait, in order; once it is encoded they are applied a few a turn
   * (entries arriving meanwhile queue behind them) until none is left.
   */
  private held?: Entry[]
  /** bumped whenever a snapshot in slices must be given up (see snapshotInSlices) */
  private sliceRun = 0
  /** the sliceRun of the snapshot being encoded in slices (encoding while it equals sliceRun) */
  private encodingRun?: number
  /** a snapshot from the leader being restored a slice a turn (see restoreInSlices) */
  private restoring?: { finishNow: () => void }
  private readonly sliceItems: number
  /** the pieces of ended tasks the next snapshot may take from the stored one (bindStoredSnapshot) */
  private pieces?: EndedTaskPieces
  private readonly nextSlice: (fn: () => void) => void
  private readonly heldBytesPerTurn: number

  /** `sched`: timers (the seeded simulator passes simulated time) @default realScheduler */
  constructor (private readonly log: Logger, private readonly sched: Scheduler = realScheduler, opts: ClusterCoreOptions = {}) {
    this.state = new ClusterState()
    this.sliceItems = opts.snapshotSliceItems ?? SNAPSHOT_SLICE_ITEMS
    this.nextSlice = opts.nextSlice ?? (fn => { sched.immediate(fn) })
    this.heldBytesPerTurn = opts.heldApplyBytesPerTurn ?? HELD_APPLY_BYTES_PER_TURN
  }

  /**
   * Entries are held (a snapshot is being encoded, or what it held is still being applied): the
   * state is behind the log, so the leader places no work on it meanwhile (see LeaderLoop.plan).
   */
  get holding (): boolean { return this.held !== undefined }

  /**
   * The driver's propose (throws when not leader), and whether every entry of the log has been
   * handed to applyEntry (nothing proposed or received is still on its way; see logSettled).
   */
  bindProposer (fn: (data: Uint8Array) => void, logApplied?: () => boolean): void {
    this.proposeFn = fn
    this.logAppliedFn = logApplied
  }

  /**
   * Nothing of the log is unapplied and no entry is held: the state is what every command proposed
   * so far made of it, so a leader can tell exactly what applying the next commands will do (see
   * LeaderLoop.placeSubmitted). False when the proposer cannot say.
   */
  get logSettled (): boolean {
    return this.held === undefined && this.restoring === undefined && this.buf.length === 0 && this.logAppliedFn?.() === true
  }

  /**
   * Called with each turn's commands just before they are packed into entries; the commands it
   * returns apply right after them, in the same entry where the caps allow (the leader places the
   * tasks a turn submits: see LeaderLoop.placeSubmitted).
   */
  setFlushHook (fn: ((cmds: readonly Command[]) => Command[] | undefined) | undefined,
    proposed?: (cmds: readonly Command[]) => void): void {
    this.flushHook = fn
    this.proposedHook = fn === undefined ? undefined : proposed
  }

  /**
   * Reads ranges of the storage's stored snapshot: a snapshot in slices then takes the pieces of
   * ended tasks that did not change from it instead of encoding them again (snapshot-pieces.ts).
   * The driver tells which snapshot it stored (snapshotStored).
   */
  bindStoredSnapshot (read: StoredSnapshotReader): void {
    this.pieces = new EndedTaskPieces(read)
  }

  /** The driver stored the snapshot in slices encoded last as the snapshot of `index`. */
  snapshotStored (index: number): void {
    this.pieces?.storedAs(index)
  }

  /** pieces of ended tasks taken from the stored snapshot instead of encoded, since start */
  get reusedSnapshotPieces (): { pieces: number, records: number } {
    return { pieces: this.pieces?.reusedPieces ?? 0, records: this.pieces?.reusedRecords ?? 0 }
  }

  onEvent (l: EventListener): () => void {
    this.listeners.add(l)
    return () => { this.listeners.delete(l) }
  }

  /** Called after the state was replaced by a snapshot's (at start, or one from the leader). */
  onRestore (l: () => void): () => void {
    this.restoreListeners.add(l)
    return () => { this.restoreListeners.delete(l) }
  }

  /** Called once, when this core halts (see `halted`). */
  onHalt (l: (h: HaltInfo) => void): () => void {
    this.haltListeners.add(l)
    return () => { this.haltListeners.delete(l) }
  }

  /**
   * Propose and wait until applied, at most `timeoutMs` (give the caller's remaining deadline);
   * `key` identifies the answer (see waitKey). Rejects with UnproposableCommandError when the
   * command could never be applied (it is then not proposed at all).
   */
  proposeAndWait (cmd: Command, timeoutMs = DEFAULT_PROPOSE_WAIT_MS): Promise<ApplyOutcome> {
    const p = this.watch(cmd, timeoutMs)
    if (this.halted === undefined) this.propose(cmd)
    return p
  }

  /**
   * Wait for `cmd` to be applied without proposing it (the caller hands it to the flush hook);
   * rejects as proposeAndWait does.
   */
  watch (cmd: Command, timeoutMs = DEFAULT_PROPOSE_WAIT_MS): Promise<ApplyOutcome> {
    const key = waitKey(cmd)
    return new Promise<ApplyOutcome>((resolve, reject) => {
      if (this.halted !== undefined) { reject(new NodeHaltedError(this.halted.index)); return }
      const old = this.waiters.get(key)
      if (old !== undefined) { old.timer(); old.reject(new NoLeaderError('superseded by a retry')) }
      const timer = this.sched.timeout(() => {
        this.waiters.delete(key)
        reject(new WaitTimeoutError(`the cluster did not commit the request within ${Math.round(timeoutMs)} ms`))
      }, Math.max(0, timeoutMs))
      this.waiters.set(key, { resolve, reject, timer })
    })
  }

  /** Queue a command for the next batch (leader only). */
  propose (cmd: Command): void {
    this.buf.push(cmd)
    if (this.buf.length >= ENTRY_FLUSH_COMMANDS) { this.flush(); return }
    if (!this.flushScheduled) {
      this.flushScheduled = true
      this.sched.immediate(() => { this.flushScheduled = false; this.flush() })
    }
  }

  private flush (): void {
    if (this.buf.length === 0) return
    const cmds = this.buf
    this.buf = []
    if (this.proposeFn === undefined || this.halted !== undefined) {
      for (const c of cmds) this.failWaiter(waitKey(c), this.halted !== undefined ? new NodeHaltedError(this.halted.index) : new NoLeaderError())
      return
    }
    if (this.flushHook !== undefined) {
      try {
        const more = this.flushHook(cmds)
        if (more !== undefined) cmds.push(...more)
      } catch (err) { this.log.error('BUG: the flush hook threw; the turn\'s commands go without its additions', err) }
    }
    const entries = packEntries(cmds, (cmd, err) => { this.refuse(cmd, err) }, this.decodedAtProposal)
    for (let i = 0; i < entries.length; i++) {
      try {
        this.proposeFn(entries[i]!.data)
      } catch (err) {
        this.log.debug('proposal dropped', (err as Error).message)
        for (const e of entries.slice(i)) for (const c of e.cmds) this.failWaiter(waitKey(c), new NoLeaderError('leadership changed; retry'))
        return
      }
    }
    if (this.proposedHook !== undefined) {
      const decoded: Command[] = []
      for (const e of entries) {
        const d = this.decodedAtProposal.get(e.data)
        if (d !== undefined) for (const c of d) decoded.push(c)
      }
      try { this.proposedHook(decoded) } catch (err) { this.log.error('BUG: the proposed hook threw', err) }
    }
  }

  /** A command the decoder would refuse: its caller hears why; a leader-internal one is a bug. */
  private refuse (cmd: Command, err: UnproposableCommandError): void {
    const key = waitKey(cmd)
    if (this.waiters.has(key)) {
      this.log.warn(`refused a '${cmd.type}' command before proposing it: ${err.message}`)
      this.failWaiter(key, err)
    } else {
      this.log.error(`BUG: the leader built a '${cmd.type}' command the log could not hold; dropped before proposing`, err.message)
    }
  }

  /** Leadership lost: everyone waiting on this node must retry against the new leader. */
  failAllWaiters (): void {
    for (const key of [...this.waiters.keys()]) this.failWaiter(key, new NoLeaderError('leadership changed; retry'))
  }

  private failWaiter (key: string, err: Error): void {
    const w = this.waiters.get(key)
    if (w === undefined) return
    this.waiters.delete(key)
    w.timer()
    w.reject(err)
  }

  /** Apply one committed entry (called by the Raft driver, in log order). Never skips one: see halt. */
  applyEntry (entry: Entry): void {
    if (this.held !== undefined) { this.held.push(entry); return }
    this.applyNow(entry)
  }

  private applyNow (entry: Entry): void {
    if (this.halted !== undefined) return
    if (entry.data.byteLength === 0) return // a new leader's no-op
    let cmds: Command[] | undefined = this.decodedAtProposal.get(entry.data)
    try {
      if (cmds === undefined) cmds = decodeCommands(entry.data)
      else this.decodedAtProposal.delete(entry.data)
    } catch (err) {
      this.halt(entry.index, `it could not be decoded: ${(err as Error).message}`)
      return
    }
    for (let i = 0; i < cmds.length; i++) {
      const cmd = cmds[i]!
      let out: ApplyOutcome
      try {
        out = this.state.apply(cmd, entry.index)
      } catch (err) {
        this.halt(entry.index, `command ${i} ('${cmd.type}') threw while applying: ${(err as Error).stack ?? String(err)}`)
        return
      }
      this.appliedCommands++
      if (out.events.length > 0) for (const l of this.listeners) for (const e of out.events) l(e, entry.index)
      if (this.waiters.size > 0) {
        const key = waitKey(cmd)
        const w = this.waiters.get(key)
        if (w !== undefined) { this.waiters.delete(key); w.timer(); w.resolve(out) }
      }
    }
  }

  /**
   * Stop applying at `index`. Every node applies the same log with the same code, so the others
   * stop here too (or, if only this node fails, it must not go on with a state they do not have).
   * The state stays readable as of the entry before; a restart replays the log and halts again.
   */
  private halt (index: number, reason: string): void {
    this.halted = { index, reason }
    this.log.error(`HALTED: committed log entry ${index} cannot be applied, so this node applies nothing after it ` +
      `(a bug: every entry is checked by the decoder before it is proposed). Reason: ${reason}`)
    for (const key of [...this.waiters.keys()]) this.failWaiter(key, new NodeHaltedError(index))
    for (const l of this.haltListeners) {
      try { l(this.halted) } catch (err) { this.log.error('halt listener failed', err) }
    }
  }

  /**
   * The state machine's snapshot, in one go (a graceful stop; tests). Refused once halted: a
   * snapshot would record the bad entry as applied. Entries held for a snapshot in slices are
   * applied first (that snapshot is given up), so the bytes are the state as of every entry handed in.
   */
  snapshotData (): Uint8Array {
    this.releaseHeld('a snapshot in one go was asked for')
    if (this.halted !== undefined) throw new NodeHaltedError(this.halted.index)
    this.pieces?.forget() // this one will be stored without pieces to take from
    return concatBytes(sliceEncoder(this.state.snapshot(), Infinity).finish())
  }

  /**
   * The snapshot of the state as of the entries handed in so far, encoded a slice a turn so the node
   * keeps answering (heartbeats, appends, clients) while it is encoded; entries handed in meanwhile
   * are held and applied, in order, from the turn after the last slice (a few a turn). The bytes
   * come in parts, to be written one after another (snapshot-codec.ts). Rejects with
   * SnapshotAbandonedError when a snapshot in one go or a restore comes first.
   */
  snapshotInSlices (): Promise<Uint8Array[]> {
    if (this.halted !== undefined) return Promise.reject(new NodeHaltedError(this.halted.index))
    if (this.held !== undefined) {
      if (this.encodingRun === this.sliceRun || this.restoring !== undefined) return Promise.reject(new SnapshotAbandonedError('another one is being encoded, or a snapshot restored'))
      // the last one's held entries are still being applied, a few a turn: all of them now (the
      // stop snapshot can come right after a snapshot; given up, a restart replayed the log instead)
      this.releaseHeld('another snapshot was asked for')
    }
    const run = ++this.sliceRun
    this.encodingRun = run
    const t0 = this.sched.monotonicMs()
    const reusedBefore = this.reusedSnapshotPieces
    const enc = sliceEncoder(this.state.snapshot(), this.sliceItems, this.pieces, CHECK_INVARIANTS)
    this.held = []
    return new Promise<Uint8Array[]>((resolve, reject) => {
      const step = (): void => {
        if (run !== this.sliceRun) { reject(new SnapshotAbandonedError('the state changed under it')); return }
        let parts: Uint8Array[]
        try {
          if (!enc.step()) { this.nextSlice(step); return }
          parts = enc.finish()
          this.pieces?.encoded(enc.layout())
          this.encodingRun = undefined
          const reused = this.reusedSnapshotPieces // (once per snapshot: the line costs nothing worth a level check)
          this.log.debug(`stats: snapshot encoded in ${(this.sched.monotonicMs() - t0).toFixed(0)} ms, ${parts.length} parts, ` +
            `${parts.reduce((n, p) => n + p.byteLength, 0)} bytes; ${reused.pieces - reusedBefore.pieces} pieces ` +
            `(${reused.records - reusedBefore.records} ended tasks) taken from the stored snapshot`)
        } catch (err) {
          // a test run's check found a record changed in place: loud, not a snapshot quietly given up
          if (err instanceof ReusedPieceMismatchError) throw err
          this.releaseHeld('its encoding failed')
          reject(err)
          return
        }
        this.nextSlice(() => { this.drainHeld(run) })
        resolve(parts)
      }
      this.nextSlice(step)
    })
  }

  /** Ends a snapshot in slices (if one runs) or a restore in slices (at once), and applies what it held. */
  private releaseHeld (why: string): void {
    this.restoring?.finishNow()
    const held = this.held
    if (held === undefined) return
    this.held = undefined
    this.sliceRun++
    if (held.length > 0) this.log.debug(`applying ${held.length} entries held while a snapshot was encoded (${why})`)
    for (const e of held) this.applyEntry(e)
  }

  /** After a snapshot in slices: the held entries, a few a turn, then back to applying at once. */
  private drainHeld (run: number): void {
    const held = this.held
    if (run !== this.sliceRun || held === undefined) return // a snapshot in one go or a restore came first
    let bytes = 0
    // one at a time off the front: whatever an apply sets off sees only what is still held
    while (held.length > 0 && bytes < this.heldBytesPerTurn && this.held === held) {
      const e = held.shift()!
      bytes += e.data.byteLength
      this.applyNow(e)
    }
    if (this.held !== held) return
    if (held.length === 0) { this.held = undefined; this.sliceRun++; return }
    this.nextSlice(() => { this.drainHeld(run) })
  }

  /** A snapshot's state in place of this one, in one go (at start, before anything is served). */
  restore (data: Uint8Array): void {
    // held entries come before the snapshot's index (the driver restores only a newer snapshot): drop them
    this.held = undefined
    this.restoring = undefined
    this.sliceRun++
    this.install(data.byteLength === 0 ? new ClusterState() : ClusterState.restore(decodeSnapshot(data) as never))
  }

  /**
   * The leader's snapshot (of `index`) in place of this state, decoded and built a slice a turn: at
   * 50 MB, 1-2 s in one go, during which this follower answered nothing. As while a snapshot is
   * encoded, the entries handed in meanwhile (they follow the snapshot) are held and applied once it
   * is in place; reads see the state as it was until then. A snapshot that cannot be restored halts
   * the core (its entries could not be applied either).
   */
  restoreInSlices (data: Uint8Array, index: number): void {
    if (data.byteLength === 0) { this.restore(data); return }
    this.held = [] // any held before come before the snapshot: dropped
    const run = ++this.sliceRun
    const dec = sliceDecoder(data)
    let build: Generator<void, ClusterState, void> | undefined
    /** one slice of work; the new state once it is built */
    const advance = (): ClusterState | undefined => {
      if (build === undefined) {
        if (dec.step()) build = ClusterState.restoreInSteps(dec.finish(), this.sliceItems)
        return undefined
      }
      const r = build.next()
      return r.done === true ? r.value : undefined
    }
    /** false when it failed (the core is halted) */
    const complete = (work: () => ClusterState | undefined): ClusterState | false | undefined => {
      try {
        return work()
      } catch (err) {
        this.restoring = undefined
        this.held = undefined
        this.sliceRun++
        this.halt(index, `the leader's snapshot could not be restored: ${(err as Error).message}`)
        return false
      }
    }
    const job = {
      finishNow: () => {
        this.restoring = undefined
        const state = complete(() => { for (;;) { const st = advance(); if (st !== undefined) return st } })
        if (state !== false && state !== undefined) this.install(state)
      }
    }
    const step = (): void => {
      // a restore in one go, a newer snapshot or a snapshot in one go (finishNow) came first
      if (this.restoring !== job || run !== this.sliceRun) return
      const state = complete(advance)
      if (state === false) return
      if (state === undefined) { this.nextSlice(step); return }
      this.restoring = undefined
      this.install(state)
      this.nextSlice(() => { this.drainHeld(run) })
    }
    this.restoring = job
    this.nextSlice(step)
  }

  private install (state: ClusterState): void {
    this.state = state
    this.pieces?.forget() // new records: nothing of the stored snapshot is theirs
    for (const l of this.restoreListeners) {
      try { l() } catch (err) { this.log.error('a restore listener failed', err) }
    }
  }
}

/**
 * Cuts commands into Raft entries the decoder accepts: at most MAX_COMMANDS_PER_ENTRY commands and
 * about ENTRY_PACK_TARGET_BYTES each (a single bigger command alone, up to MAX_ENTRY_DATA_BYTES),
 * each checked by decodeCommands. A command that cannot be in any entry is handed to `refuse` and
 * left out; the rest keep their order. Bounded: halving, so at most 2n encodes for n commands.
 */
export function packEntries (cmds: Command[], refuse: (cmd: Command, err: UnproposableCommandError) => void,
  decoded?: WeakMap<Uint8Array, Command[]>): Array<{ data: Uint8Array, cmds: Command[] }> {
  const out: Array<{ data: Uint8Array, cmds: Command[] }> = []
  for (let i = 0; i < cmds.length; i += MAX_COMMANDS_PER_ENTRY) packInto(cmds.slice(i, i + MAX_COMMANDS_PER_ENTRY), out, refuse, decoded)
  return out
}

function packInto (cmds: Command[], out: Array<{ data: Uint8Array, cmds: Command[] }>, refuse: (cmd: Command, err: UnproposableCommandError) => void,
  decoded: WeakMap<Uint8Array, Command[]> | undefined): void {
  if (cmds.length === 0) return
  let problem: unknown
  try {
    const data = encodeCommands(cmds) // EncodeError beyond MAX_ENTRY_DATA_BYTES
    if (data.byteLength <= ENTRY_PACK_TARGET_BYTES || cmds.length === 1) {
      // exactly what every node will run on this entry; this node applies this very decoding
      const check = decodeCommands(data)
      decoded?.set(data, check)
      out.push({ data, cmds })
      return
    }
  } catch (err) {
    problem = err
  }
  if (cmds.length === 1) { refuse(cmds[0]!, unproposable(cmds[0]!, problem)); return }
  const mid = cmds.length >> 1
  packInto(cmds.slice(0, mid), out, refuse, decoded)
  packInto(cmds.slice(mid), out, refuse, decoded)
}

/** The decoder's complaint about one command, as its caller should read it. */
function unproposable (cmd: Command, err: unknown): UnproposableCommandError {
  if (err instanceof DecodeError) {
    const field = err.path?.replace(/^\[0\]\.?/, '')
    const why = err.message.replace(/^decode failed \([a-z_]+\): commands \[0\]\.?/, '')
    if (err.reason === 'too_large') return new UnproposableCommandError('payload_too_large', `this ${cmd.type} is too big for one Raft entry: ${err.message}`)
    return new UnproposableCommandError('invalid_payload', `this ${cmd.type} cannot be accepted: ${why}`, field === '' ? undefined : field)
  }
  if (err instanceof EncodeError) {
    const tooBig = /over the \d+-byte cap/.test(err.message)
    return new UnproposableCommandError(tooBig ? 'payload_too_large' : 'invalid_payload',
      tooBig ? `this ${cmd.type} is too big for one Raft entry (${err.message.replace(/^encode failed: command list /, '')}); split it` : `this ${cmd.type} cannot be encoded: ${err.message}`)
  }
  return new UnproposableCommandError('invalid_payload', `this ${cmd.type} cannot be accepted: ${(err as Error)?.message ?? String(err)}`)
}

/** Which applied command answers which waiter. */
export function waitKey (cmd: Command): string {
  switch (cmd.type) {
    case 'submit': return `submit:${cmd.requestId}`
    case 'cancel': return `cancel:${cmd.taskId}`
    case 'setRole': return `role:${cmd.principal}`
    case 'settings': return `settings:${cmd.by}@${cmd.at}`
    case 'evict': return `evict:${cmd.at}`
    // one leader proposes a (task, attempt) once; its time tells it from an older leader's in the log tail
    case 'assign': return cmd.assignments.length === 0 ? `assign:-@${cmd.at}` : `assign:${cmd.assignments[0]!.taskId}:${cmd.assignments[0]!.attempt}@${cmd.at}`
    // the leader never has the same (task, attempt, device) in flight twice (LeaderLoop.resultsInflight);
    // two devices may report the same (task, attempt) after a leader change, so the device is part of it
    // an empty one is a new leader's barrier (LeaderLoop.becomeLeader): its time tells it from an
    // older leader's barrier still in the log tail
    case 'finished': return cmd.results.length === 0 ? `finished:-@${cmd.at}` : `finished:${cmd.results[0]!.taskId}:${cmd.results[0]!.attempt}@${cmd.results[0]!.deviceId}`
    default: return `${cmd.type}:-`
  }
}
