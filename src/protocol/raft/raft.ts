// The Raft state machine (etcd's raft.go): every input — timer ticks, local requests, network
// messages — goes through step(); outputs accumulate in `msgs` and `readStates` and in the log's
// unstable part, and RawNode hands them to the driver as a Ready. No I/O, no clock, no Math.random.
//
// This file holds the state, the term rules every message passes through, and the role changes.
// Each role is a (step, tick) pair swapped in become*: step-follower.ts, step-candidate.ts (also the
// election), step-leader.ts; the leader's sending in replication.ts; membership.ts, read-only.ts,
// tracker.ts + quorum.ts (who votes, what a majority holds), progress.ts, log.ts.
// The fields and become* are shared with those files; from outside this directory, use RawNode.
//
// Paper references: §5.2 election, §5.3 replication, §5.4 safety, §6 membership (thesis ch. 4
// single-server changes), §7 snapshots, §9.6 PreVote (thesis), §6.4 ReadIndex (thesis).
import type { ConfChange, ConfState, Entry, EntryType, HardState, Message, NodeId, RaftConfig, ReadState, Role, SoftState } from './types.js'
import { ProposalDroppedError, RaftInputError } from './errors.js'
import { RaftLog } from './log.js'
import type { Progress, ProgressState } from './progress.js'
import { ProgressTracker } from './tracker.js'
import { handleReadIndex, ReadOnly } from './read-only.js'
import { appendEntries, assertCanPropose, bcastAppend } from './replication.js'
import { applyConfChange, proposeConfChange } from './membership.js'
import { stepFollower } from './step-follower.js'
import { handleVoteRequest, hup, isTransfer, learnCommit, stepCandidate, tickElection } from './step-candidate.js'
import { stepLeader, tickHeartbeat } from './step-leader.js'
import { CommitInference } from './commit-inference.js'

export { CAMPAIGN_TRANSFER } from './step-candidate.js'

export interface ProgressStatus { match: number, next: number, state: ProgressState, recentActive: boolean, isLearner: boolean }
export interface RaftStatus {
  id: NodeId
  term: number
  vote: NodeId | null
  commit: number
  applied: number
  lastIndex: number
  leader: NodeId | null
  role: Role
  voters: NodeId[]
  learners: NodeId[]
  leadTransferee: NodeId | null
  /** only on the leader */
  progress: Record<NodeId, ProgressStatus>
}

const EMPTY = new Uint8Array(0)

export class Raft {
  readonly id: NodeId
  term = 0
  vote: NodeId | null = null
  lead: NodeId | null = null
  role: Role = 'follower'
  readonly log: RaftLog
  readonly trk: ProgressTracker
  msgs: Message[] = []
  readStates: ReadState[] = []
  leadTransferee: NodeId | null = null
  /** index of the last conf change proposed by this leader; a new one waits until it is applied */
  pendingConfIndex = 0
  electionElapsed = 0
  heartbeatElapsed = 0
  randomizedElectionTimeout = 0
  readonly maxCommittedSizePerReady: number
  readonly cfg: RaftConfig
  readonly readOnly = new ReadOnly()
  /** what a follower knows towards committing by itself (commit-inference.ts) */
  readonly inference = new CommitInference()
  /** the current role's step and tick (set together with `role` in become*) */
  private stepRole: (r: Raft, m: Message) => void = stepFollower
  private tickRole: (r: Raft) => void = tickElection

  constructor (cfg: RaftConfig) {
    validateConfig(cfg)
    this.cfg = cfg
    this.id = cfg.id
    this.maxCommittedSizePerReady = cfg.maxCommittedSizePerReady ?? Math.max(cfg.maxSizePerMsg * 64, 1 << 20)
    this.log = new RaftLog(cfg.storage)
    this.trk = new ProgressTracker(cfg.id, cfg.maxInflightMsgs)
    const { hardState, confState } = cfg.storage.initialState()
    const snapIndex = cfg.storage.snapshot().meta.index
    if (snapIndex > this.log.committed) { this.log.committed = snapIndex; this.log.applied = snapIndex }
    this.trk.applyConfState(confState, this.log.lastIndex())
    if (hardState.commit > this.log.lastIndex()) {
      throw new RaftInputError('hardState.commit', `${hardState.commit} is beyond the stored last index ${this.log.lastIndex()}`)
    }
    this.log.commitTo(hardState.commit)
    if (cfg.applied !== undefined && cfg.applied > this.log.applied) {
      if (cfg.applied > this.log.committed) throw new RaftInputError('applied', `${cfg.applied} is beyond commit ${this.log.committed}`)
      this.log.appliedTo(cfg.applied)
    }
    this.becomeFollower(hardState.term, null)
    this.vote = hardState.vote
  }

  // ---- observers -------------------------------------------------------------------------------

  get voters (): Set<NodeId> { return this.trk.voters }
  get learners (): Set<NodeId> { return this.trk.learners }
  /** progress of every member (voters and learners, self included); meaningful on the leader */
  get prs (): Map<NodeId, Progress> { return this.trk.progress }
  softState (): SoftState { return { leader: this.lead, role: this.role } }
  hardState (): HardState { return { term: this.term, vote: this.vote, commit: this.log.committed } }
  confState (): ConfState { return this.trk.confState() }
  promotable (): boolean { return this.trk.voters.has(this.id) }
  quorum (): number { return this.trk.quorum() }

  status (): RaftStatus {
    const progress: Record<NodeId, ProgressStatus> = {}
    if (this.role === 'leader') {
      for (const [id, pr] of this.trk.progress) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive, isLearner: pr.isLearner }
      }
    }
    return {
      id: this.id, term: this.term, vote: this.vote, commit: this.log.committed, applied: this.log.applied,
      lastIndex: this.log.lastIndex(), leader: this.lead, role: this.role, voters: [...this.trk.voters],
      learners: [...this.trk.learners], leadTransferee: this.leadTransferee, progress
    }
  }

  // ---- local requests --------------------------------------------------------------------------

  tick (): void { this.tickRole(this) }

  /**
   * How many tick() calls from now the next one does more than count: a follower's or candidate's
   * election, a leader's heartbeat, quorum check, abandoned transfer or snapshot timeout. Infinity
   * when no tick can ever act (a node outside the voters never campaigns). A driver may sleep that
   * long instead of ticking on a fixed period, as long as it counts the ticks that passed before
   * every other input (electionElapsed also decides the leader lease on vote requests).
   */
  ticksUntilTimerEvent (): number {
    if (this.role === 'leader') {
      for (const pr of this.trk.progress.values()) if (pr.state === 'snapshot') return 1
      return Math.max(1, Math.min(this.cfg.heartbeatTick - this.heartbeatElapsed, this.cfg.electionTick - this.electionElapsed))
    }
    if (!this.promotable()) return Infinity
    return Math.max(1, this.randomizedElectionTimeout - this.electionElapsed)
  }

  propose (datas: Uint8Array[]): void {
    for (const d of datas) {
      if (!(d instanceof Uint8Array)) throw new RaftInputError('data', 'must be a Uint8Array')
    }
    assertCanPropose(this)
    if (datas.length === 0) return
    appendEntries(this, datas.map(d => ({ type: 'normal' as EntryType, data: d })))
    bcastAppend(this)
  }

  proposeConfChange (cc: ConfChange): void { proposeConfChange(this, cc) }

  readIndex (context: Uint8Array): void {
    if (!(context instanceof Uint8Array) || context.length === 0) throw new RaftInputError('context', 'must be a non-empty Uint8Array')
    const m: Message = { type: 'readIndex', from: this.id, to: this.id, term: 0, context }
    if (this.role === 'leader') { handleReadIndex(this, m); return }
    if (this.lead === null) throw new ProposalDroppedError('no leader known for a read')
    this.msgs.push({ type: 'readIndex', from: this.id, to: this.lead, term: 0, context })
  }

  transferLeadership (to: NodeId): void {
    if (typeof to !== 'string' || to.length === 0) throw new RaftInputError('to', 'must be a non-empty node id')
    if (this.role !== 'leader') throw new ProposalDroppedError(this.lead === null ? 'no leader' : `not the leader (leader is ${this.lead})`)
    this.step({ type: 'transferLeader', from: to, to: this.id, term: 0 })
  }

  /**
   * Apply a committed conf change (the driver calls this when it applies a 'conf' entry).
   * Accepts the ConfChange or the entry itself. Returns the new configuration.
   */
  applyConfChange (ccOrEntry: ConfChange | Entry): ConfState { return applyConfChange(this, ccOrEntry) }

  // ---- step ------------------------------------------------------------------------------------

  step (m: Message): void {
    if ((m.type === 'voteResp' || m.type === 'preVoteResp') && m.reject === true) learnCommit(this, m)
    if (!this.stepTerm(m)) return
    switch (m.type) {
      case 'hup': hup(this, false); return
      case 'vote': case 'preVote': handleVoteRequest(this, m); return
    }
    this.stepRole(this, m)
  }

  /** §5.1 term rules before any role sees the message; false if the message is dealt with. */
  private stepTerm (m: Message): boolean {
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Leader lease (§9.6 thesis / CheckQuorum): a node that heard from a leader within the
        // minimum election timeout ignores (pre)votes, unless it is a transfer campaign.
        const inLease = this.cfg.checkQuorum && this.lead !== null && this.electionElapsed < this.cfg.electionTick
        if (!isTransfer(m.context) && inLease) return false
      }
      if (m.type === 'preVote') {
        // a preVote never changes our term
      } else if (m.type === 'preVoteResp' && m.reject !== true) {
        // a granted preVote carries the term we will campaign in
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' || m.type === 'durable') {
        this.becomeFollower(m.term, m.from)
      } else {
        this.becomeFollower(m.term, null)
      }
    } else if (m.term < this.term && m.term !== 0) {
      if (m.type === 'heartbeat' || m.type === 'app') {
        // §5.1: tell a stale leader our term so it steps down (with PreVote this is the only way a
        // partitioned leader learns it was deposed: we would ignore it and it would ignore us).
        this.send({ type: 'appResp', to: m.from })
      } else if (m.type === 'preVote' || m.type === 'vote') {
        // §5.1: reject with our term so the candidate catches up. Without it, a candidate whose
        // stale configuration excludes us never learns our term and we never vote for it (found by
        // the simulator: two nodes with different configs bumping terms past each other forever).
        this.send({ type: m.type === 'vote' ? 'voteResp' : 'preVoteResp', to: m.from, reject: true })
      }
      return false
    }
    return true
  }

  // ---- roles -----------------------------------------------------------------------------------

  becomeFollower (term: number, lead: NodeId | null): void {
    this.reset(term)
    this.lead = lead
    this.role = 'follower'
    this.stepRole = stepFollower
    this.tickRole = tickElection
  }

  becomePreCandidate (): void {
    // PreVote (thesis §9.6): no term change, no vote; only asks whether an election could be won.
    this.trk.resetVotes()
    this.lead = null
    this.role = 'preCandidate'
    this.stepRole = stepCandidate
    this.tickRole = tickElection
  }

  becomeCandidate (): void {
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = 'candidate'
    this.stepRole = stepCandidate
    this.tickRole = tickElection
  }

  becomeLeader (): void {
    this.reset(this.term)
    this.lead = this.id
    this.role = 'leader'
    this.stepRole = stepLeader
    this.tickRole = tickHeartbeat
    const self = this.trk.progress.get(this.id)
    if (self !== undefined) self.becomeReplicate()
    // Conservatively forbid conf changes until everything before this term is applied.
    this.pendingConfIndex = this.log.lastIndex()
    // A no-op entry of the new term lets the leader commit entries of earlier terms (§5.4.2, §8).
    appendEntries(this, [{ type: 'normal', data: EMPTY }])
  }

  private reset (term: number): void {
    if (term !== this.term) { this.term = term; this.vote = null }
    this.lead = null
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.randomizedElectionTimeout = this.cfg.electionTick + Math.floor(this.cfg.rng() * this.cfg.electionTick)
    this.leadTransferee = null
    this.trk.resetVotes()
    this.trk.resetProgress(this.log.lastIndex())
    this.pendingConfIndex = 0
    this.readOnly.reset()
    this.inference.resetTerm()
  }

  /** queue a message from this node, at the current term unless one is given */
  send (m: Omit<Message, 'from' | 'term'> & { term?: number }): void {
    const out = m as Message
    out.from = this.id
    if (out.term === undefined) out.term = this.term
    this.msgs.push(out)
  }
}

function validateConfig (cfg: RaftConfig): void {
  if (typeof cfg.id !== 'string' || cfg.id.length === 0) throw new RaftInputError('id', 'must be a non-empty string')
  if (!Number.isInteger(cfg.heartbeatTick) || cfg.heartbeatTick < 1) throw new RaftInputError('heartbeatTick', 'must be an integer >= 1')
  if (!Number.isInteger(cfg.electionTick) || cfg.electionTick <= cfg.heartbeatTick) throw new RaftInputError('electionTick', 'must be an integer > heartbeatTick')
  if (!Number.isInteger(cfg.maxInflightMsgs) || cfg.maxInflightMsgs < 1) throw new RaftInputError('maxInflightMsgs', 'must be an integer >= 1')
  if (!(cfg.maxSizePerMsg > 0)) throw new RaftInputError('maxSizePerMsg', 'must be > 0')
  if (typeof cfg.rng !== 'function') throw new RaftInputError('rng', 'must be a function returning [0, 1)')
}
