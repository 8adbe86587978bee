// The Raft state machine (etcd's raft.go): every input — timer ticks, local requests, network
// messages — goes through step(); outputs accumulate in `msgs` and `readStates` and in the log's
// unstable part, and RawNode hands them to the driver as a Ready. No I/O, no clock, no Math.random.
//
// Paper references: §5.2 election, §5.3 replication, §5.4 safety, §6 membership (thesis ch. 4
// single-server changes), §7 snapshots, §9.6 PreVote (thesis), §6.4 ReadIndex (thesis).
import type { ConfChange, ConfState, Entry, EntryType, HardState, Message, NodeId, RaftConfig, ReadState, Role, SoftState } from './types.js'
import { CompactedError, ProposalDroppedError, RaftInputError } from './errors.js'
import { RaftLog } from './log.js'
import { Progress, type ProgressState } from './progress.js'
import { ReadOnly } from './read-only.js'
import { decodeConfChange, encodeConfChange, validateConfChange } from './conf-change.js'

/** Context of vote messages of a leadership-transfer campaign: voters skip the leader lease. */
export const CAMPAIGN_TRANSFER = new TextEncoder().encode('transfer')

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

type VoteResult = 'won' | 'lost' | 'pending'
type CampaignKind = 'pre' | 'election' | 'transfer'

const EMPTY = new Uint8Array(0)

function isTransfer (ctx: Uint8Array | undefined): boolean {
  if (ctx === undefined || ctx.length !== CAMPAIGN_TRANSFER.length) return false
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== CAMPAIGN_TRANSFER[i]) return false
  return true
}

export class Raft {
  readonly id: NodeId
  term = 0
  vote: NodeId | null = null
  lead: NodeId | null = null
  role: Role = 'follower'
  readonly log: RaftLog
  voters = new Set<NodeId>()
  learners = new Set<NodeId>()
  /** progress of every member (voters and learners, self included); meaningful on the leader */
  prs = new Map<NodeId, Progress>()
  msgs: Message[] = []
  readStates: ReadState[] = []
  leadTransferee: NodeId | null = null
  /** index of the last conf change proposed by this leader; a new one waits until it is applied */
  pendingConfIndex = 0
  electionElapsed = 0
  heartbeatElapsed = 0
  randomizedElectionTimeout = 0
  readonly maxCommittedSizePerReady: number
  private readonly cfg: RaftConfig
  private readonly votes = new Map<NodeId, boolean>()
  private readonly readOnly = new ReadOnly()
  /** ReadIndex requests received before this leader committed an entry of its term (thesis §6.4) */
  private pendingReadIndex: Message[] = []
  private readonly matchBuf: number[] = []

  constructor (cfg: RaftConfig) {
    validateConfig(cfg)
    this.cfg = cfg
    this.id = cfg.id
    this.maxCommittedSizePerReady = cfg.maxCommittedSizePerReady ?? Math.max(cfg.maxSizePerMsg * 64, 1 << 20)
    this.log = new RaftLog(cfg.storage)
    const { hardState, confState } = cfg.storage.initialState()
    const snapIndex = cfg.storage.snapshot().meta.index
    if (snapIndex > this.log.committed) { this.log.committed = snapIndex; this.log.applied = snapIndex }
    this.applyConfState(confState)
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

  softState (): SoftState { return { leader: this.lead, role: this.role } }
  hardState (): HardState { return { term: this.term, vote: this.vote, commit: this.log.committed } }
  confState (): ConfState { return { voters: [...this.voters], learners: [...this.learners] } }
  promotable (): boolean { return this.voters.has(this.id) }
  quorum (): number { return Math.floor(this.voters.size / 2) + 1 }

  status (): RaftStatus {
    const progress: Record<NodeId, ProgressStatus> = {}
    if (this.role === 'leader') {
      for (const [id, pr] of this.prs) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive, isLearner: pr.isLearner }
      }
    }
    return {
      id: this.id, term: this.term, vote: this.vote, commit: this.log.committed, applied: this.log.applied,
      lastIndex: this.log.lastIndex(), leader: this.lead, role: this.role, voters: [...this.voters],
      learners: [...this.learners], leadTransferee: this.leadTransferee, progress
    }
  }

  // ---- local requests --------------------------------------------------------------------------

  tick (): void {
    if (this.role === 'leader') this.tickHeartbeat()
    else this.tickElection()
  }

  propose (datas: Uint8Array[]): void {
    for (const d of datas) {
      if (!(d instanceof Uint8Array)) throw new RaftInputError('data', 'must be a Uint8Array')
    }
    this.assertCanPropose()
    if (datas.length === 0) return
    this.appendEntries(datas.map(d => ({ type: 'normal' as EntryType, data: d })))
    this.bcastAppend()
  }

  proposeConfChange (cc: ConfChange): void {
    validateConfChange(cc)
    this.assertCanPropose()
    if (this.pendingConfIndex > this.log.applied) {
      throw new ProposalDroppedError(`a configuration change is pending (index ${this.pendingConfIndex} not applied yet, applied ${this.log.applied})`)
    }
    this.checkConfChangeAgainstConf(cc)
    this.appendEntries([{ type: 'conf', data: encodeConfChange(cc) }])
    this.pendingConfIndex = this.log.lastIndex()
    this.bcastAppend()
  }

  readIndex (context: Uint8Array): void {
    if (!(context instanceof Uint8Array) || context.length === 0) throw new RaftInputError('context', 'must be a non-empty Uint8Array')
    const m: Message = { type: 'readIndex', from: this.id, to: this.id, term: 0, context }
    if (this.role === 'leader') { this.handleReadIndex(m); return }
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
  applyConfChange (ccOrEntry: ConfChange | Entry): ConfState {
    const cc = 'data' in ccOrEntry ? decodeConfChange(ccOrEntry.data) : ccOrEntry
    validateConfChange(cc)
    const id = cc.nodeId
    const last = this.log.lastIndex()
    if (cc.type === 'removeNode') {
      this.voters.delete(id); this.learners.delete(id); this.prs.delete(id)
    } else {
      const learner = cc.type === 'addLearner'
      if (learner) { this.voters.delete(id); this.learners.add(id) } else { this.learners.delete(id); this.voters.add(id) }
      let pr = this.prs.get(id)
      if (pr === undefined) {
        pr = new Progress(last + 1, this.cfg.maxInflightMsgs, learner)
        pr.recentActive = true // a new member may need a snapshot at once
        this.prs.set(id, pr)
      }
      pr.isLearner = learner
    }
    if (this.role === 'leader') {
      if (!this.voters.has(this.id)) {
        this.becomeFollower(this.term, null) // removed or demoted leader steps down
      } else {
        if (this.maybeCommit()) this.bcastAppend()
        else for (const pid of this.prs.keys()) if (pid !== this.id) this.sendAppend(pid, pid === id) // probe a new member now
        if (this.leadTransferee !== null && !this.voters.has(this.leadTransferee)) this.leadTransferee = null
      }
    }
    return this.confState()
  }

  // ---- step ------------------------------------------------------------------------------------

  step (m: Message): void {
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Leader lease (§9.6 thesis / CheckQuorum): a node that heard from a leader within the
        // minimum election timeout ignores (pre)votes, unless it is a transfer campaign.
        const inLease = this.cfg.checkQuorum && this.lead !== null && this.electionElapsed < this.cfg.electionTick
        if (!isTransfer(m.context) && inLease) return
      }
      if (m.type === 'preVote') {
        // a preVote never changes our term
      } else if (m.type === 'preVoteResp' && m.reject !== true) {
        // a granted preVote carries the term we will campaign in
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
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
      return
    }

    switch (m.type) {
      case 'hup': this.hup(false); return
      case 'vote': case 'preVote': this.handleVoteRequest(m); return
    }
    switch (this.role) {
      case 'leader': this.stepLeader(m); break
      case 'follower': this.stepFollower(m); break
      default: this.stepCandidate(m)
    }
  }

  // ---- roles -----------------------------------------------------------------------------------

  becomeFollower (term: number, lead: NodeId | null): void {
    this.reset(term)
    this.lead = lead
    this.role = 'follower'
  }

  private becomePreCandidate (): void {
    // PreVote (thesis §9.6): no term change, no vote; only asks whether an election could be won.
    this.votes.clear()
    this.lead = null
    this.role = 'preCandidate'
  }

  private becomeCandidate (): void {
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = 'candidate'
  }

  private becomeLeader (): void {
    this.reset(this.term)
    this.lead = this.id
    this.role = 'leader'
    const self = this.prs.get(this.id)
    if (self !== undefined) self.becomeReplicate()
    // Conservatively forbid conf changes until everything before this term is applied.
    this.pendingConfIndex = this.log.lastIndex()
    // A no-op entry of the new term lets the leader commit entries of earlier terms (§5.4.2, §8).
    this.appendEntries([{ type: 'normal', data: EMPTY }])
  }

  private reset (term: number): void {
    if (term !== this.term) { this.term = term; this.vote = null }
    this.lead = null
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.randomizedElectionTimeout = this.cfg.electionTick + Math.floor(this.cfg.rng() * this.cfg.electionTick)
    this.leadTransferee = null
    this.votes.clear()
    const last = this.log.lastIndex()
    for (const [id, old] of this.prs) {
      const pr = new Progress(last + 1, this.cfg.maxInflightMsgs, old.isLearner)
      if (id === this.id) pr.match = last
      this.prs.set(id, pr)
    }
    this.pendingConfIndex = 0
    this.readOnly.reset()
    this.pendingReadIndex = []
  }

  private applyConfState (cs: ConfState): void {
    this.voters = new Set(cs.voters)
    this.learners = new Set(cs.learners)
    this.prs.clear()
    const last = this.log.lastIndex()
    for (const id of this.voters) this.prs.set(id, new Progress(last + 1, this.cfg.maxInflightMsgs, false))
    for (const id of this.learners) this.prs.set(id, new Progress(last + 1, this.cfg.maxInflightMsgs, true))
    const self = this.prs.get(this.id)
    if (self !== undefined) self.match = last
  }

  // ---- timers ----------------------------------------------------------------------------------

  private tickElection (): void {
    this.electionElapsed++
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0
      this.hup(false)
    }
  }

  private tickHeartbeat (): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    this.tickSnapshots()
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0
      // CheckQuorum: a leader that has not heard from a quorum within an election timeout steps
      // down, so a partitioned leader stops serving (and stops holding a lease).
      if (this.cfg.checkQuorum && !this.quorumActive()) { this.becomeFollower(this.term, null); return }
      this.leadTransferee = null // a transfer that did not finish within an election timeout is abandoned
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0
      this.bcastHeartbeat()
    }
  }

  /** A snapshot neither acknowledged nor reported within snapshotTimeoutTick is presumed lost. */
  private tickSnapshots (): void {
    const limit = this.cfg.snapshotTimeoutTick ?? 5 * this.cfg.electionTick
    for (const pr of this.prs.values()) {
      if (pr.state !== 'snapshot' || ++pr.snapshotTicks < limit) continue
      pr.pendingSnapshot = 0
      pr.becomeProbe() // the next heartbeat answer triggers a probe, and a new snapshot if needed
    }
  }

  private quorumActive (): boolean {
    let active = 0
    for (const id of this.voters) {
      const pr = this.prs.get(id)
      if (id === this.id || (pr !== undefined && pr.recentActive)) active++
    }
    for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false
    return active >= this.quorum()
  }

  // ---- elections (§5.2) ------------------------------------------------------------------------

  private hup (transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return
    // A conf change committed but not applied could change who votes; wait until it is applied.
    if (this.log.hasUnappliedConfChange()) return
    if (transfer) this.campaign('transfer')
    else this.campaign(this.cfg.preVote ? 'pre' : 'election')
  }

  private campaign (kind: CampaignKind): void {
    let term: number
    let type: 'vote' | 'preVote'
    if (kind === 'pre') {
      this.becomePreCandidate(); type = 'preVote'; term = this.term + 1
    } else {
      this.becomeCandidate(); type = 'vote'; term = this.term
    }
    if (this.poll(this.id, true) === 'won') {
      // single-voter cluster
      if (kind === 'pre') this.campaign('election')
      else this.becomeLeader()
      return
    }
    const index = this.log.lastIndex()
    const logTerm = this.log.lastTerm()
    for (const id of this.voters) {
      if (id === this.id) continue
      const m: Message = { type, from: this.id, to: id, term, index, logTerm }
      if (kind === 'transfer') m.context = CAMPAIGN_TRANSFER
      this.msgs.push(m)
    }
  }

  private poll (id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted)
    let yes = 0
    let no = 0
    for (const v of this.voters) {
      const g = this.votes.get(v)
      if (g === true) yes++
      else if (g === false) no++
    }
    const q = this.quorum()
    if (yes >= q) return 'won'
    if (no > this.voters.size - q) return 'lost'
    return 'pending'
  }

  private handleVoteRequest (m: Message): void {
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp'
    // §5.2: one vote per term (first come); a preVote for a future term is always considered.
    const canVote = this.vote === m.from ||
      (this.vote === null && this.lead === null) ||
      (m.type === 'preVote' && m.term > this.term)
    // §5.4.1 election restriction: only for a candidate whose log is at least as up to date.
    if (canVote && this.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)) {
      // the response carries the term the candidate asked about, so a preCandidate counts it
      this.send({ type: respType, to: m.from, term: m.term })
      if (m.type === 'vote') { this.electionElapsed = 0; this.vote = m.from }
    } else {
      this.send({ type: respType, to: m.from, reject: true })
    }
  }

  // ---- per-role step -----------------------------------------------------------------------------

  private stepLeader (m: Message): void {
    switch (m.type) {
      case 'beat': this.bcastHeartbeat(); return
      case 'prop': this.propose((m.entries ?? []).map(e => e.data)); return
      case 'readIndex': this.handleReadIndex(m); return
      case 'transferLeader': this.handleTransferLeader(m); return
    }
    const pr = this.prs.get(m.from)
    if (pr === undefined) return
    switch (m.type) {
      case 'appResp': this.handleAppendResponse(m, pr); break
      case 'heartbeatResp': this.handleHeartbeatResponse(m, pr); break
      case 'snapStatus':
        if (pr.state !== 'snapshot') return
        if (m.reject === true) pr.pendingSnapshot = 0
        pr.becomeProbe()
        pr.probeSent = true // wait for the follower's answer or the next heartbeat
        break
      case 'unreachable':
        if (pr.state === 'replicate') pr.becomeProbe()
        break
    }
  }

  private stepCandidate (m: Message): void {
    const myResp = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp'
    switch (m.type) {
      case 'prop': throw new ProposalDroppedError('no leader (election in progress)')
      case 'app': this.becomeFollower(m.term, m.from); this.handleAppend(m); return
      case 'heartbeat': this.becomeFollower(m.term, m.from); this.handleHeartbeat(m); return
      case 'snap': this.becomeFollower(m.term, m.from); this.handleSnapshot(m); return
    }
    if (m.type !== myResp) return
    const r = this.poll(m.from, m.reject !== true)
    if (r === 'won') {
      if (this.role === 'preCandidate') this.campaign('election')
      else { this.becomeLeader(); this.bcastAppend() }
    } else if (r === 'lost') {
      this.becomeFollower(this.term, null)
    }
  }

  private stepFollower (m: Message): void {
    switch (m.type) {
      case 'prop': throw new ProposalDroppedError(this.lead === null ? 'no leader' : `not the leader (leader is ${this.lead})`)
      case 'app': this.electionElapsed = 0; this.lead = m.from; this.handleAppend(m); return
      case 'heartbeat': this.electionElapsed = 0; this.lead = m.from; this.handleHeartbeat(m); return
      case 'snap': this.electionElapsed = 0; this.lead = m.from; this.handleSnapshot(m); return
      case 'transferLeader':
      case 'readIndex':
        // Not forwarded: a message on the wire always comes from its sender, and the caller
        // (the driver) retries at the leader it knows of.
        return
      case 'timeoutNow':
        // Leadership transfer: campaign now, skipping PreVote; voters skip the lease check.
        this.hup(true)
        return
      case 'readIndexResp':
        this.readStates.push({ index: m.index ?? 0, context: m.context ?? EMPTY })
    }
  }

  // ---- follower handlers (§5.3, §7) ----------------------------------------------------------------

  private handleAppend (m: Message): void {
    const prevIndex = m.index ?? 0
    if (prevIndex === 0 && this.voters.size === 0 && this.learners.size === 0 && (m.entries?.length ?? 0) > 0) {
      // We were added to a cluster whose founding configuration is not in the log (bootstrapped
      // at index 0). Replaying its conf changes from an empty configuration could make us believe
      // we are alone and elect ourselves: refuse, and stay visibly behind. Bootstrap founding
      // members with bootstrapStorage() so a new node gets the base configuration by snapshot.
      this.send({ type: 'appResp', to: m.from, index: prevIndex, reject: true, rejectHint: 0, logTerm: 0 })
      return
    }
    if (prevIndex < this.log.committed) {
      this.send({ type: 'appResp', to: m.from, index: this.log.committed })
      return
    }
    const lastNew = this.log.maybeAppend(prevIndex, m.logTerm ?? 0, m.commit ?? 0, m.entries ?? [])
    if (lastNew >= 0) {
      this.send({ type: 'appResp', to: m.from, index: lastNew })
      return
    }
    // Reject, with a hint for fast backtracking: the last index whose term is <= the leader's
    // prevTerm, so the leader can skip a whole conflicting term per round trip.
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(Math.min(prevIndex, this.log.lastIndex()), m.logTerm ?? 0)
    this.send({ type: 'appResp', to: m.from, index: prevIndex, reject: true, rejectHint: hintIndex, logTerm: hintTerm })
  }

  private handleHeartbeat (m: Message): void {
    // The leader sends min(match, commit), so this never exceeds what we hold.
    this.log.commitTo(m.commit ?? 0)
    const resp: Message = { type: 'heartbeatResp', from: this.id, to: m.from, term: this.term }
    if (m.context !== undefined) resp.context = m.context
    this.msgs.push(resp)
  }

  private handleSnapshot (m: Message): void {
    const s = m.snapshot
    if (s === undefined) return
    if (this.restore(s)) this.send({ type: 'appResp', to: m.from, index: this.log.lastIndex() })
    else this.send({ type: 'appResp', to: m.from, index: this.log.committed })
  }

  private restore (s: import('./types.js').Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // We already hold the snapshot's last entry: just fast-forward the commit index.
      this.log.commitTo(s.meta.index)
      return false
    }
    this.log.restore(s)
    this.applyConfState(s.meta.conf)
    return true
  }

  // ---- leader handlers -------------------------------------------------------------------------------

  private handleAppendResponse (m: Message, pr: Progress): void {
    pr.recentActive = true
    const index = m.index ?? 0
    if (m.reject === true) {
      let probe = m.rejectHint ?? index
      if ((m.logTerm ?? 0) > 0) probe = this.log.findConflictByTerm(probe, m.logTerm ?? 0)[0]
      if (pr.maybeDecrTo(index, probe)) {
        if (pr.state === 'replicate') pr.becomeProbe()
        this.sendAppend(m.from)
      }
      return
    }
    const oldPaused = pr.isPaused()
    const updated = pr.maybeUpdate(index)
    if (!updated && !(pr.state === 'probe' && pr.match === index)) return
    if (pr.state === 'probe') pr.becomeReplicate()
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) { pr.becomeProbe(); pr.becomeReplicate() }
    else if (pr.state === 'replicate') pr.inflights.freeLE(index)

    if (this.maybeCommit()) this.bcastAppend()
    else if (oldPaused) this.sendAppend(m.from)
    // Pipelining: keep sending while the window allows and there is something to send.
    for (let i = 0; i < this.cfg.maxInflightMsgs && this.sendAppend(m.from, false); i++) { /* bounded */ }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeoutNow', to: m.from })
    }
  }

  private handleHeartbeatResponse (m: Message, pr: Progress): void {
    pr.recentActive = true
    pr.probeSent = false
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne()
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from)
    if (m.context === undefined || m.context.length === 0) return
    const acks = this.readOnly.recvAck(m.from, m.context)
    if (acks === undefined) return
    let votersAcked = 0
    for (const id of acks) if (this.voters.has(id)) votersAcked++
    if (votersAcked < this.quorum()) return
    for (const st of this.readOnly.advance(m.context)) this.respondReadIndex(st.req, st.index)
  }

  private handleTransferLeader (m: Message): void {
    const to = m.from
    const pr = this.prs.get(to)
    if (pr === undefined || pr.isLearner) return
    if (this.leadTransferee !== null) {
      if (this.leadTransferee === to) return
      this.leadTransferee = null
    }
    if (to === this.id) return
    // The transfer must finish within an election timeout (tickHeartbeat aborts it otherwise).
    this.electionElapsed = 0
    this.leadTransferee = to
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to })
    else this.sendAppend(to)
  }

  private handleReadIndex (m: Message): void {
    if (m.context === undefined || m.context.length === 0) return
    if (this.voters.size === 1 && this.voters.has(this.id)) { this.respondReadIndex(m, this.log.committed); return }
    // A fresh leader does not know the commit index until it commits an entry of its own term.
    if (this.log.term(this.log.committed) !== this.term) { this.pendingReadIndex.push(m); return }
    this.startReadIndex(m)
  }

  private startReadIndex (m: Message): void {
    const ctx = m.context as Uint8Array
    if (!this.readOnly.add(this.log.committed, m, ctx)) return
    this.readOnly.recvAck(this.id, ctx)
    this.bcastHeartbeat(ctx)
  }

  private respondReadIndex (req: Message, index: number): void {
    const ctx = req.context ?? EMPTY
    if (req.from === this.id) this.readStates.push({ index, context: ctx })
    else this.send({ type: 'readIndexResp', to: req.from, index, context: ctx })
  }

  // ---- replication (§5.3) -------------------------------------------------------------------------

  private assertCanPropose (): void {
    if (this.role !== 'leader') {
      throw new ProposalDroppedError(this.lead === null ? 'no leader' : `not the leader (leader is ${this.lead})`)
    }
    if (this.leadTransferee !== null) throw new ProposalDroppedError(`leadership transfer to ${this.leadTransferee} in progress`)
    if (!this.prs.has(this.id)) throw new ProposalDroppedError('this node was removed from the cluster')
    const max = this.cfg.maxUncommittedEntries ?? 0
    const uncommitted = this.log.lastIndex() - this.log.committed
    if (max > 0 && uncommitted >= max) throw new ProposalDroppedError(`${uncommitted} entries uncommitted (limit maxUncommittedEntries ${max})`)
  }

  private checkConfChangeAgainstConf (cc: ConfChange): void {
    const id = cc.nodeId
    if (cc.type === 'addVoter' && this.voters.has(id)) throw new RaftInputError('confChange.nodeId', `${id} is already a voter`)
    if (cc.type === 'addLearner' && this.learners.has(id)) throw new RaftInputError('confChange.nodeId', `${id} is already a learner`)
    if (cc.type === 'removeNode' && !this.prs.has(id)) throw new RaftInputError('confChange.nodeId', `${id} is not a member`)
    const leavesNoVoter = (cc.type === 'removeNode' || cc.type === 'addLearner') && this.voters.size === 1 && this.voters.has(id)
    if (leavesNoVoter) throw new RaftInputError('confChange', `removing ${id} would leave no voter`)
  }

  private appendEntries (es: Array<{ type: EntryType, data: Uint8Array }>): void {
    let index = this.log.lastIndex()
    const ents: Entry[] = new Array(es.length)
    for (let i = 0; i < es.length; i++) ents[i] = { term: this.term, index: ++index, type: es[i].type, data: es[i].data }
    this.log.append(ents)
    this.prs.get(this.id)?.maybeUpdate(this.log.lastIndex())
    // A single-voter cluster commits here; otherwise this is a no-op until followers answer.
    this.maybeCommit()
  }

  /** §5.3/§5.4.2: advance commit to the highest index on a majority of voters, if of this term. */
  private maybeCommit (): boolean {
    if (this.voters.size === 0) return false
    const buf = this.matchBuf
    buf.length = 0
    for (const id of this.voters) buf.push(this.prs.get(id)?.match ?? 0)
    buf.sort((a, b) => b - a)
    const mci = buf[this.quorum() - 1]
    if (mci <= this.log.committed || this.log.term(mci) !== this.term) return false
    const firstInTerm = this.log.term(this.log.committed) !== this.term
    this.log.commitTo(mci)
    if (firstInTerm && this.pendingReadIndex.length > 0) {
      const pending = this.pendingReadIndex
      this.pendingReadIndex = []
      for (const m of pending) this.startReadIndex(m)
    }
    return true
  }

  private bcastAppend (): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id)
  }

  private bcastHeartbeat (ctx?: Uint8Array): void {
    const context = ctx ?? this.readOnly.lastPendingContext()
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue
      const m: Message = { type: 'heartbeat', from: this.id, to: id, term: this.term, commit: Math.min(pr.match, this.log.committed) }
      if (context !== undefined) m.context = context
      this.msgs.push(m)
    }
  }

  /** Send an append (or a snapshot if the entries are compacted). False if nothing was sent. */
  private sendAppend (to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.prs.get(to)
    if (pr === undefined || pr.isPaused()) return false
    const prevIndex = pr.next - 1
    const prevTerm = this.log.term(prevIndex)
    let ents: Entry[] | undefined
    if (prevTerm !== undefined) {
      try {
        ents = this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.maxSizePerMsg)
      } catch (err) {
        if (!(err instanceof CompactedError)) throw err
      }
    }
    if (prevTerm === undefined || ents === undefined) return this.sendSnapshot(to, pr)
    if (ents.length === 0 && !sendIfEmpty) return false
    this.msgs.push({ type: 'app', from: this.id, to, term: this.term, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed })
    pr.sentEntries(ents.length, prevIndex + ents.length)
    return true
  }

  private sendSnapshot (to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false // do not ship a snapshot to a node we have not heard from
    const snapshot = this.log.snapshot()
    if (snapshot.meta.index === 0) return false
    pr.becomeSnapshot(snapshot.meta.index)
    this.msgs.push({ type: 'snap', from: this.id, to, term: this.term, snapshot })
    return true
  }

  private send (m: Omit<Message, 'from' | 'term'> & { term?: number }): void {
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
