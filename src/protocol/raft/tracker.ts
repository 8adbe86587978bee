// Who is in the cluster and what the leader knows of each member (etcd's tracker.ProgressTracker):
// the voters and learners, one Progress per member (self included), and the votes of a campaign.
// Quorum questions go through quorum.ts so the majority rule lives in one place.
import type { ConfState, NodeId } from './types.js'
import { Progress } from './progress.js'
import { committedIndex, majority, voteResult, type VoteResult } from './quorum.js'

export class ProgressTracker {
  voters = new Set<NodeId>()
  learners = new Set<NodeId>()
  /** progress of every member (voters and learners, self included); meaningful on the leader */
  readonly progress = new Map<NodeId, Progress>()
  /** this campaign's answers, first answer per voter wins */
  private readonly votes = new Map<NodeId, boolean>()
  private readonly matchBuf: number[] = []

  constructor (private readonly self: NodeId, private readonly maxInflightMsgs: number) {}

  quorum (): number { return majority(this.voters.size) }
  confState (): ConfState { return { voters: [...this.voters], learners: [...this.learners] } }
  isSoleVoter (): boolean { return this.voters.size === 1 && this.voters.has(this.self) }

  newProgress (next: number, isLearner: boolean): Progress { return new Progress(next, this.maxInflightMsgs, isLearner) }

  /** Replace the configuration (at startup or from a snapshot): fresh progress for every member. */
  applyConfState (cs: ConfState, lastIndex: number): void {
    this.voters = new Set(cs.voters)
    this.learners = new Set(cs.learners)
    this.progress.clear()
    for (const id of this.voters) this.progress.set(id, this.newProgress(lastIndex + 1, false))
    for (const id of this.learners) this.progress.set(id, this.newProgress(lastIndex + 1, true))
    const self = this.progress.get(this.self)
    if (self !== undefined) self.match = lastIndex
  }

  /** A new term: forget what was known of every member; only self is known to hold lastIndex. */
  resetProgress (lastIndex: number): void {
    for (const [id, old] of this.progress) {
      const pr = this.newProgress(lastIndex + 1, old.isLearner)
      if (id === this.self) pr.match = lastIndex
      this.progress.set(id, pr)
    }
  }

  resetVotes (): void { this.votes.clear() }

  recordVote (id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted)
  }

  tallyVotes (): VoteResult { return voteResult(this.voters, this.votes) }

  /** the highest index a majority of voters holds */
  committed (): number { return committedIndex(this.voters, id => this.progress.get(id)?.match ?? 0, this.matchBuf) }

  /** CheckQuorum: did a quorum of voters answer since the last call? Starts the next window. */
  quorumActive (): boolean {
    let active = 0
    for (const id of this.voters) {
      const pr = this.progress.get(id)
      if (id === this.self || (pr !== undefined && pr.recentActive)) active++
    }
    for (const [id, pr] of this.progress) if (id !== this.self) pr.recentActive = false
    return active >= this.quorum()
  }
}
