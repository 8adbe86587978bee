// PreVote (Raft thesis §9.6) and CheckQuorum / leader lease (thesis §6.2, §4.2.3): a node that keeps
// losing its network must not depose a healthy leader when it comes back.
import assert from 'node:assert/strict'
import { InstantCluster } from '../sim/instant-cluster.js'
import type { Message } from '../../src/protocol/raft/types.js'

const V = ['a', 'b', 'c']

function ticks (c: InstantCluster, n: number, ids?: string[]): void { for (let i = 0; i < n; i++) c.tick(ids) }

describe('raft PreVote and CheckQuorum', () => {
  it('a partitioned node rejoining does not depose a healthy leader (PreVote)', () => {
    const c = new InstantCluster(V, { preVote: true, checkQuorum: true })
    c.elect('a')
    const term = c.node('a').raw.raft.term
    c.isolate('c')
    ticks(c, 100)
    // c pre-campaigned over and over but never raised its term
    assert.equal(c.node('c').raw.raft.term, term)
    assert.equal(c.node('c').raw.raft.role, 'preCandidate')
    c.heal()
    ticks(c, 30)
    assert.equal(c.node('a').raw.raft.role, 'leader')
    assert.equal(c.node('a').raw.raft.term, term)
    assert.equal(c.node('c').raw.raft.lead, 'a')
  })

  it('without PreVote the same rejoin forces a new election (why PreVote matters)', () => {
    const c = new InstantCluster(V, { preVote: false, checkQuorum: false })
    c.elect('a')
    const term = c.node('a').raw.raft.term
    c.isolate('c')
    ticks(c, 100)
    assert.ok(c.node('c').raw.raft.term > term + 3)
    c.heal()
    ticks(c, 5)
    assert.ok(c.node('a').raw.raft.term > term, 'the leader was forced into a higher term')
  })

  it('CheckQuorum: a leader that hears from no quorum within an election timeout steps down', () => {
    const c = new InstantCluster(V, { preVote: true, checkQuorum: true })
    c.elect('a')
    c.isolate('a')
    ticks(c, 9, ['a'])
    assert.equal(c.node('a').raw.raft.role, 'leader')
    ticks(c, 11, ['a'])
    assert.equal(c.node('a').raw.raft.role, 'follower')
    assert.throws(() => c.node('a').raw.propose(new Uint8Array([1])))
  })

  it('leader lease: a follower that heard from the leader ignores a (pre)vote of a higher term', () => {
    const c = new InstantCluster(V, { preVote: true, checkQuorum: true })
    c.elect('a')
    const b = c.node('b').raw
    const term = b.raft.term
    const vote = b.raft.vote
    const last = b.raft.log.lastIndex()
    b.step({ type: 'vote', from: 'c', to: 'b', term: term + 5, index: last + 10, logTerm: term + 4 })
    b.step({ type: 'preVote', from: 'c', to: 'b', term: term + 5, index: last + 10, logTerm: term + 4 })
    assert.equal(b.raft.term, term)
    assert.equal(b.raft.vote, vote)
    const out: Message[] = []
    c.node('b').drain(m => out.push(m))
    assert.equal(out.filter(m => m.type === 'voteResp' || m.type === 'preVoteResp').length, 0)
  })

  it('a preVote is granted without changing the voter term or vote', () => {
    const c = new InstantCluster(V, { preVote: true, checkQuorum: false })
    c.elect('a')
    const b = c.node('b').raw
    const hs = { term: b.raft.term, vote: b.raft.vote }
    b.step({ type: 'preVote', from: 'c', to: 'b', term: hs.term + 1, index: 100, logTerm: hs.term })
    const out: Message[] = []
    c.node('b').drain(m => out.push(m))
    const r = out.find(m => m.type === 'preVoteResp')
    assert.equal(r?.reject, undefined)
    assert.equal(r?.term, hs.term + 1)
    assert.deepEqual({ term: b.raft.term, vote: b.raft.vote }, hs)
  })

  it('a stale leader learns of the new term from a follower and steps down', () => {
    const c = new InstantCluster(V, { preVote: true, checkQuorum: true })
    c.elect('a')
    c.isolate('a')
    ticks(c, 40, ['b', 'c'])
    const leader = c.leaders().find(n => n.id !== 'a')
    assert.ok(leader !== undefined)
    assert.equal(c.node('a').raw.raft.role, 'leader') // has not ticked: still believes it leads
    c.heal()
    c.node('a').raw.tick() // its heartbeat reaches a follower of the new term
    c.settle()
    assert.equal(c.node('a').raw.raft.role, 'follower')
    assert.equal(c.leaders().length, 1)
  })
})
