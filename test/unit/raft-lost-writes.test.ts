// A follower whose disk lied about fsync: it acknowledged entries, then restarted on storage that
// no longer holds them (the soak's "data dir copy that lost recent writes", seed 45). etcd raft
// assumes durable storage and never lowers a follower's match, so the leader would keep sending from
// match+1 and the follower keep rejecting. Here the leader forgets match and probes down; the
// follower catches up. The leader's commit index never goes back.
import assert from 'node:assert/strict'
import { InstantCluster } from '../sim/instant-cluster.js'
import { Progress } from '../../src/protocol/raft/progress.js'

const V = ['a', 'b', 'c']

/** c acknowledges `before` commands, then `lost` more, then restarts on the image taken in between */
function followerLosesTail (before: number, lost: number): { c: InstantCluster, commitBefore: number, lostFrom: number } {
  const c = new InstantCluster(V)
  c.elect('a')
  for (let i = 0; i < before; i++) c.propose('a', `kept${i}`)
  const image = c.node('c').storage.crashCopy() // what the lying disk will hand back
  const lostFrom = image.lastIndex() + 1
  for (let i = 0; i < lost; i++) c.propose('a', `lost${i}`)
  const a = c.node('a')
  assert.equal(a.raw.status().progress.c.match, a.raw.raft.log.lastIndex(), 'c acknowledged everything')
  const commitBefore = a.raw.status().commit
  const n = c.node('c')
  n.crash()
  n.storage = image
  n.restart()
  assert.ok(n.raw.raft.log.lastIndex() < a.raw.status().progress.c.match, 'c lost entries it had acknowledged')
  return { c, commitBefore, lostFrom }
}

function assertCaughtUp (c: InstantCluster): void {
  const a = c.node('a')
  const n = c.node('c')
  assert.equal(n.raw.raft.log.lastIndex(), a.raw.raft.log.lastIndex())
  assert.equal(n.applied, a.applied)
  assert.equal(n.hash, a.hash)
  assert.equal(n.appliedCommands, a.appliedCommands)
  assert.equal(a.raw.status().progress.c.match, a.raw.raft.log.lastIndex())
  assert.equal(a.raw.status().progress.c.state, 'replicate')
}

describe('raft: a follower that lost acknowledged writes (lying disk)', () => {
  it('catches up on the next append: the leader forgets its match and probes down from the hint', () => {
    const { c, commitBefore, lostFrom } = followerLosesTail(3, 5)
    c.delivered.length = 0
    c.propose('a', 'next')
    const rejects = c.delivered.filter(m => m.type === 'appResp' && m.from === 'c' && m.reject === true)
    assert.ok(rejects.length >= 1, 'c rejected the append after its lost tail')
    assert.ok(rejects.every(m => (m.rejectHint ?? 0) < lostFrom), 'c hinted where its log ends')
    assert.ok(c.delivered.some(m => m.type === 'app' && m.to === 'c' && (m.index ?? 0) < lostFrom), 'a probed below the old match')
    assertCaughtUp(c)
    assert.ok(c.node('a').raw.status().commit >= commitBefore)
  })

  it('catches up on heartbeats alone when the leader is idle, and commits nothing it does not hold', () => {
    const { c, commitBefore } = followerLosesTail(2, 4)
    const n = c.node('c')
    let heartbeats = 0
    c.filter = m => {
      if (m.to === 'c' && m.type === 'heartbeat') heartbeats++
      assert.ok(n.raw.status().commit <= n.raw.raft.log.lastIndex(), 'c never commits beyond its log')
      return true
    }
    c.tick()
    assert.ok(heartbeats > 0)
    assertCaughtUp(c)
    assert.equal(c.node('a').raw.status().commit, commitBefore, 'the leader commit index did not move')
  })

  it('is not confused with a stale rejection by a follower that holds what it acknowledged', () => {
    const pr = new Progress(1, 4, false)
    // what the leader does with a rejection (step-leader.ts handleAppendRejection)
    const reject = (rejected: number, hint: number): boolean => {
      const again = pr.maybeDecrTo(rejected, hint)
      if (again && pr.state === 'replicate') pr.becomeProbe()
      return again
    }
    pr.becomeReplicate()
    pr.maybeUpdate(10)
    pr.next = 13
    // a rejection of an older append (at or below match) is stale
    assert.equal(reject(10, 5), false)
    assert.equal(reject(8, 5), false)
    assert.deepEqual([pr.state, pr.match], ['replicate', 10])
    // the append at 12 is rejected: probe at match
    assert.equal(reject(12, 6), true)
    assert.deepEqual([pr.state, pr.match, pr.next], ['probe', 10, 11])
    // the probe at match rejected with a hint below it: once could be a reordered answer to an
    // append sent before the acknowledgement, so probe at match again
    assert.equal(reject(10, 6), true)
    assert.deepEqual([pr.state, pr.match, pr.next], ['probe', 10, 11])
    // an acknowledgement in between clears the suspicion
    pr.maybeUpdate(10)
    assert.equal(reject(10, 6), true)
    assert.deepEqual([pr.match, pr.next], [10, 11])
    // twice in a row: the member lost its tail
    assert.equal(reject(10, 6), true)
    assert.deepEqual([pr.state, pr.match, pr.next], ['probe', 0, 7])
    // a snapshot in flight replaces the member's log anyway: no reset
    pr.maybeUpdate(10)
    pr.becomeSnapshot(20)
    assert.equal(pr.maybeLostTail(6), false)
    assert.equal(pr.match, 10)
  })
})
