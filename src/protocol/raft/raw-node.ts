// The driver-facing facade (etcd's rawnode.go): single-threaded, no timers or I/O. The driver calls
// tick() on its clock, step() for each received message, and loops
//   while (node.hasReady()) { const rd = node.ready(); persist; send; apply; node.advance(rd) }
// honouring the order documented on Ready in types.ts.
import type { ConfChange, ConfState, Entry, HardState, Message, MessageType, NodeId, RaftConfig, Ready, SoftState } from './types.js'
import { RaftInputError } from './errors.js'
import { Raft, type RaftStatus } from './raft.js'
import { mayCertifyDurable, noteLocalDurable } from './commit-inference.js'

/** Message types that only a local caller may produce; they never travel and are refused by step(). */
export const LOCAL_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>(['hup', 'beat', 'prop', 'snapStatus', 'unreachable'])
const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  'hup', 'beat', 'prop', 'app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp',
  'snap', 'snapStatus', 'unreachable', 'transferLeader', 'timeoutNow', 'readIndex', 'readIndexResp', 'durable'
])

export class RawNode {
  readonly raft: Raft
  private prevSoft: SoftState
  private prevHard: HardState
  /** a Ready handed out and not yet advanced (the contract allows one at a time) */
  private outstanding: Ready | undefined

  constructor (cfg: RaftConfig) {
    this.raft = new Raft(cfg)
    this.prevSoft = this.raft.softState()
    this.prevHard = this.raft.hardState()
  }

  get id (): NodeId { return this.raft.id }

  tick (): void { this.raft.tick() }

  /** see Raft.ticksUntilTimerEvent */
  ticksUntilTimerEvent (): number { return this.raft.ticksUntilTimerEvent() }

  /** Start an election now (PreVote first if enabled). */
  campaign (): void { this.raft.step({ type: 'hup', from: this.raft.id, to: this.raft.id, term: 0 }) }

  /** Feed a message received from the network. Local-only types are refused. */
  step (m: Message): void {
    validateMessage(m)
    if (LOCAL_MESSAGE_TYPES.has(m.type)) throw new RaftInputError('message.type', `${m.type} is local-only and cannot be received`)
    if (m.to !== this.raft.id) throw new RaftInputError('message.to', `${m.to} is not this node (${this.raft.id})`)
    this.raft.step(m)
  }

  /** Throws ProposalDroppedError unless this node is the leader and not transferring leadership. */
  propose (data: Uint8Array): void { this.raft.propose([data]) }
  /** Many commands in one append (cheaper than one propose each). */
  proposeBatch (datas: Uint8Array[]): void { this.raft.propose(datas) }
  proposeConfChange (cc: ConfChange): void { this.raft.proposeConfChange(cc) }
  /** Call when applying a committed 'conf' entry (or its decoded ConfChange). */
  applyConfChange (cc: ConfChange | Entry): ConfState { return this.raft.applyConfChange(cc) }
  transferLeadership (to: NodeId): void { this.raft.transferLeadership(to) }
  /** Ask for a linearizable read point; the answer arrives as a ReadState with this context. */
  readIndex (context: Uint8Array): void { this.raft.readIndex(context) }

  reportUnreachable (id: NodeId): void {
    this.raft.step({ type: 'unreachable', from: id, to: this.raft.id, term: 0 })
  }

  reportSnapshot (id: NodeId, ok: boolean): void {
    this.raft.step({ type: 'snapStatus', from: id, to: this.raft.id, term: 0, reject: !ok })
  }

  status (): RaftStatus { return this.raft.status() }
  /** index of the last entry in this node's log (stable or not) */
  lastIndex (): number { return this.raft.log.lastIndex() }

  /** The driver's fsync made this node's log durable up to index (a follower may infer a commit: commit-inference.ts). */
  localDurable (index: number): void { noteLocalDurable(this.raft, index) }

  /** May this leader tell `to` its log is durable (commit-inference.ts)? `applied`: what the driver has applied. */
  mayCertifyDurable (to: NodeId, applied: number): boolean { return mayCertifyDurable(this.raft, to, applied) }

  /** how far `to` was told this leader's log is durable, this term (0: never, or not a member) */
  durableTold (to: NodeId): number { return this.raft.trk.progress.get(to)?.durableTold ?? 0 }

  /** the driver told `to` this leader's log is durable up to index */
  noteDurableTold (to: NodeId, index: number): void {
    const pr = this.raft.trk.progress.get(to)
    if (pr !== undefined && index > pr.durableTold) pr.durableTold = index
  }

  hasReady (): boolean {
    const r = this.raft
    if (r.msgs.length > 0 || r.readStates.length > 0) return true
    if (r.log.unstableEntries().length > 0 || r.log.hasPendingSnapshot() || r.log.hasNextCommittedEntries()) return true
    if (r.lead !== this.prevSoft.leader || r.role !== this.prevSoft.role) return true
    const h = this.prevHard
    return r.term !== h.term || r.vote !== h.vote || r.log.committed !== h.commit
  }

  ready (): Ready {
    if (this.outstanding !== undefined) throw new RaftInputError('ready', 'the previous Ready was not advanced')
    const r = this.raft
    const rd: Ready = {
      entries: r.log.unstableEntries().slice(),
      committedEntries: r.log.nextCommittedEntries(r.maxCommittedSizePerReady),
      messages: r.msgs,
      readStates: r.readStates
    }
    r.msgs = []
    r.readStates = []
    const snap = r.log.pendingSnapshot()
    if (snap !== undefined) rd.snapshot = snap
    if (r.lead !== this.prevSoft.leader || r.role !== this.prevSoft.role) rd.softState = r.softState()
    const h = this.prevHard
    if (r.term !== h.term || r.vote !== h.vote || r.log.committed !== h.commit) rd.hardState = r.hardState()
    this.outstanding = rd
    return rd
  }

  /** The driver persisted, sent and applied `rd`. */
  advance (rd: Ready): void {
    if (rd !== this.outstanding) throw new RaftInputError('ready', 'advance() must be given the last Ready returned by ready()')
    this.outstanding = undefined
    const log = this.raft.log
    if (rd.softState !== undefined) this.prevSoft = rd.softState
    if (rd.hardState !== undefined) this.prevHard = rd.hardState
    if (rd.snapshot !== undefined) {
      log.stableSnapTo(rd.snapshot.meta.index)
      log.appliedTo(rd.snapshot.meta.index)
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]
      log.stableTo(last.index, last.term)
    }
    if (rd.committedEntries.length > 0) log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index)
  }
}

function validateMessage (m: Message): void {
  if (m === null || typeof m !== 'object') throw new RaftInputError('message', 'not an object')
  if (!MESSAGE_TYPES.has(m.type)) throw new RaftInputError('message.type', `unknown type ${String(m.type)}`)
  if (typeof m.from !== 'string' || m.from.length === 0) throw new RaftInputError('message.from', 'must be a non-empty string')
  if (!Number.isInteger(m.term) || m.term < 0) throw new RaftInputError('message.term', `must be an integer >= 0, got ${String(m.term)}`)
}
