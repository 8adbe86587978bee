// The replicated part of a node: the cluster state machine driven by the Raft log. The leader
// batches commands: every command proposed in one event-loop turn goes into ONE log entry (an
// encoded Command[]), so 10,000 submissions cost a handful of fsyncs, not 10,000.
import { encodeCommands, decodeCommands, encodeValue, decodeValue } from '../../protocol/codec.js'
import { ClusterState } from '../../sched/state-machine.js'
import type { ApplyOutcome, ClusterEvent, Command } from '../../sched/commands.js'
import type { Entry } from '../../protocol/raft/types.js'
import { NoLeaderError, WaitTimeoutError } from '../errors.js'
import type { Logger } from '../log.js'

/** Most commands per log entry: keeps one entry well under the wire frame cap. */
const MAX_COMMANDS_PER_PROPOSAL = 2000

interface Waiter { resolve: (o: ApplyOutcome) => void, reject: (e: Error) => void, timer: ReturnType<typeof setTimeout> }

export type EventListener = (e: ClusterEvent, index: number) => void

export class ClusterCore {
  state: ClusterState
  private buf: Command[] = []
  private flushScheduled = false
  private readonly waiters = new Map<string, Waiter>()
  private readonly listeners = new Set<EventListener>()
  private proposeFn?: (data: Uint8Array) => void
  appliedCommands = 0

  constructor (private readonly log: Logger) {
    this.state = new ClusterState()
  }

  /** the driver's propose; throws when not leader */
  bindProposer (fn: (data: Uint8Array) => void): void { this.proposeFn = fn }

  onEvent (l: EventListener): () => void {
    this.listeners.add(l)
    return () => { this.listeners.delete(l) }
  }

  /** Propose and wait until applied; `key` identifies the answer (see waitKey). */
  proposeAndWait (cmd: Command, timeoutMs = 10_000): Promise<ApplyOutcome> {
    const key = waitKey(cmd)
    return new Promise<ApplyOutcome>((resolve, reject) => {
      const old = this.waiters.get(key)
      if (old !== undefined) { clearTimeout(old.timer); old.reject(new NoLeaderError('superseded by a retry')) }
      const timer = setTimeout(() => {
        this.waiters.delete(key)
        reject(new WaitTimeoutError('the cluster did not commit the request in time'))
      }, timeoutMs)
      this.waiters.set(key, { resolve, reject, timer })
      this.propose(cmd)
    })
  }

  /** Queue a command for the next batch (leader only). */
  propose (cmd: Command): void {
    this.buf.push(cmd)
    if (this.buf.length >= MAX_COMMANDS_PER_PROPOSAL) { this.flush(); return }
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => { this.flushScheduled = false; this.flush() })
    }
  }

  private flush (): void {
    if (this.buf.length === 0) return
    const cmds = this.buf
    this.buf = []
    try {
      if (this.proposeFn === undefined) throw new NoLeaderError()
      for (const data of encodeBounded(cmds)) this.proposeFn(data)
    } catch (err) {
      this.log.debug('proposal dropped', (err as Error).message)
      for (const c of cmds) this.failWaiter(waitKey(c), new NoLeaderError('leadership changed; retry'))
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
    clearTimeout(w.timer)
    w.reject(err)
  }

  /** Apply one committed entry (called by the Raft driver, in log order). */
  applyEntry (entry: Entry): void {
    if (entry.data.byteLength === 0) return // a new leader's no-op
    let cmds: Command[]
    try {
      cmds = decodeCommands(entry.data)
    } catch (err) {
      // A committed entry we cannot read would be a bug in an older node; skip it identically everywhere.
      this.log.error(`entry ${entry.index} could not be decoded; skipped`, err)
      return
    }
    for (const cmd of cmds) {
      const out = this.state.apply(cmd, entry.index)
      this.appliedCommands++
      if (out.events.length > 0) for (const l of this.listeners) for (const e of out.events) l(e, entry.index)
      if (this.waiters.size > 0) {
        const key = waitKey(cmd)
        const w = this.waiters.get(key)
        if (w !== undefined) { this.waiters.delete(key); clearTimeout(w.timer); w.resolve(out) }
      }
    }
  }

  snapshotData (): Uint8Array { return encodeValue(this.state.snapshot()) }

  restore (data: Uint8Array): void {
    this.state = data.byteLength === 0 ? new ClusterState() : ClusterState.restore(decodeValue(data) as never)
  }
}

/** Most bytes per log entry: well under the entry cap, so one entry never fails to replicate. */
const MAX_ENTRY_BYTES = 2 * 1024 * 1024

/** Encode commands into entries of at most MAX_ENTRY_BYTES (halving a batch that is too big). */
function encodeBounded (cmds: Command[]): Uint8Array[] {
  const data = encodeCommands(cmds)
  if (data.byteLength <= MAX_ENTRY_BYTES || cmds.length === 1) return [data]
  const mid = cmds.length >> 1
  return [...encodeBounded(cmds.slice(0, mid)), ...encodeBounded(cmds.slice(mid))]
}

/** Which applied command answers which waiter. */
export function waitKey (cmd: Command): string {
  switch (cmd.type) {
    case 'submit': return `submit:${cmd.requestId}`
    case 'cancel': return `cancel:${cmd.taskId}`
    case 'setRole': return `role:${cmd.principal}`
    // the leader never has the same (task, attempt, device) in flight twice (LeaderLoop.resultsInflight);
    // two devices may report the same (task, attempt) after a leader change, so the device is part of it
    // an empty one is a new leader's barrier (LeaderLoop.becomeLeader): its time tells it from an
    // older leader's barrier still in the log tail
    case 'finished': return cmd.results.length === 0 ? `finished:-@${cmd.at}` : `finished:${cmd.results[0]!.taskId}:${cmd.results[0]!.attempt}@${cmd.results[0]!.deviceId}`
    default: return `${cmd.type}:-`
  }
}
