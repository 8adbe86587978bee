// Leadership transfer (Raft thesis §3.10): the leader catches the target up, then sends TimeoutNow;
// the target campaigns at once, skipping PreVote, and voters skip the lease for it.
import assert from 'node:assert/strict'
import { InstantCluster } from '../sim/instant-cluster.js'
import { ProposalDroppedError } from '../../src/protocol/raft/errors.js'

const V = ['a', 'b', 'c']

describe('raft leadership transfer', () => {
  it('transfers to an up-to-date follower, even with CheckQuorum leases', () => {
    const c = new InstantCluster(V, { preVote: true, checkQuorum: true })
    c.elect('a')
    c.propose('a', 'x')
    const term = c.node('a').raw.raft.term
    c.node('a').raw.transferLeadership('b')
    c.settle()
    assert.equal(c.node('b').raw.raft.role, 'leader')
    assert.equal(c.node('b').raw.raft.term, term + 1)
    assert.equal(c.node('a').raw.raft.role, 'follower')
    assert.ok(c.delivered.some(m => m.type === 'timeoutNow' && m.to === 'b'))
    c.propose('b', 'y')
    assert.equal(c.node('a').appliedCommands, 2)
  })

  it('catches a lagging target up before sending TimeoutNow', () => {
    const c = new InstantCluster(V)
    c.elect('a')
    c.isolate('c')
    for (let i = 0; i < 5; i++) c.propose('a', `x${i}`)
    c.heal()
    const last = c.node('a').raw.raft.log.lastIndex()
    c.node('a').raw.transferLeadership('c')
    c.settle()
    assert.equal(c.node('c').raw.raft.role, 'leader')
    assert.equal(c.node('c').appliedCommands, 5)
    const iTimeout = c.delivered.findIndex(m => m.type === 'timeoutNow')
    const iCaughtUp = c.delivered.findIndex(m => m.type === 'appResp' && m.from === 'c' && m.index === last && m.reject !== true)
    assert.ok(iCaughtUp >= 0 && iTimeout > iCaughtUp, 'TimeoutNow only after c acknowledged the whole log')
  })

  it('drops proposals while transferring, and aborts after an election timeout if the target is gone', () => {
    const c = new InstantCluster(V)
    c.elect('a')
    c.isolate('c')
    c.propose('a', 'x')
    c.node('a').raw.transferLeadership('c')
    c.settle()
    assert.throws(() => c.node('a').raw.propose(new Uint8Array([1])), (e: Error) => e instanceof ProposalDroppedError && /transfer/.test(e.message))
    for (let i = 0; i < 10; i++) c.tick(['a', 'b'])
    assert.equal(c.node('a').raw.raft.role, 'leader')
    c.propose('a', 'after abort')
    assert.equal(c.node('b').appliedCommands, 2)
  })

  it('refuses to transfer from a follower, and ignores a transfer to itself or to a learner', () => {
    const c = new InstantCluster(V)
    c.elect('a')
    assert.throws(() => c.node('b').raw.transferLeadership('c'), ProposalDroppedError)
    c.node('a').raw.transferLeadership('a')
    c.settle()
    assert.equal(c.node('a').raw.raft.role, 'leader')
    assert.equal(c.node('a').raw.raft.leadTransferee, null)
  })
})
