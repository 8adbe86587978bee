// Majority arithmetic over a set of voters (etcd's quorum/majority.go): how many make a quorum, the
// highest index a quorum holds, and whether a tally of votes is decided. Pure functions of their
// arguments; the tracker supplies the voters and what it knows of each.
import type { NodeId } from './types.js'

export type VoteResult = 'won' | 'lost' | 'pending'

/** votes needed out of `voters` */
export function majority (voters: number): number { return Math.floor(voters / 2) + 1 }

/**
 * The highest index held by a majority of `voters` (§5.3): the majority-th largest match.
 * 0 without voters. `buf` is scratch space, reused so the leader allocates nothing per answer.
 */
export function committedIndex (voters: ReadonlySet<NodeId>, matchOf: (id: NodeId) => number, buf: number[]): number {
  if (voters.size === 0) return 0
  buf.length = 0
  for (const id of voters) buf.push(matchOf(id))
  buf.sort((a, b) => b - a)
  return buf[majority(voters.size) - 1]
}

/** won once a majority granted; lost once a majority can no longer grant; votes of non-voters do not count */
export function voteResult (voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let yes = 0
  let no = 0
  for (const v of voters) {
    const g = votes.get(v)
    if (g === true) yes++
    else if (g === false) no++
  }
  const q = majority(voters.size)
  if (yes >= q) return 'won'
  if (no > voters.size - q) return 'lost'
  return 'pending'
}
