// ReadIndex (Raft thesis §6.4): a read is served at the commit index once the leader has confirmed,
// by a heartbeat round acknowledged by a quorum, that it still leads; a fresh leader first commits
// an entry of its own term. A leader cut off from the majority answers no read.
import assert from 'node:assert/strict'
import { InstantCluster } from '../sim/instant-cluster.js'
import type { ReadState } from '../../src/protocol/raft/types.js'
import { ProposalDroppedError, RaftInputError } from '../../src/protocol/raft/errors.js'
import { bytes, text } from '../sim/unit-helpers.js'

const V = ['a', 'b', 'c']

function cluster (): { c: InstantCluster, reads: Array<[string, ReadState]> } {
  const reads: Array<[string, ReadState]> = []
  const c = new InstantCluster(V, {}, 1, { onReadState: (n, rs) => reads.push([n.id, rs]) })
  return { c, reads }
}

describe('raft ReadIndex', () => {
  it('the leader answers at its commit index after a quorum heartbeat round', () => {
    const { c, reads } = cluster()
    c.elect('a')
    c.propose('a', 'x')
    const commit = c.node('a').raw.status().commit
    c.node('a').raw.readIndex(bytes('r1'))
    c.settle()
    assert.equal(reads.length, 1)
    assert.equal(reads[0][0], 'a')
    assert.equal(reads[0][1].index, commit)
    assert.equal(text(reads[0][1].context), 'r1')
    assert.ok(c.delivered.some(m => m.type === 'heartbeatResp' && m.context !== undefined && text(m.context) === 'r1'))
  })

  it('a follower read is forwarded to the leader and answered to the follower', () => {
    const { c, reads } = cluster()
    c.elect('a')
    c.propose('a', 'x')
    c.node('b').raw.readIndex(bytes('rb'))
    c.settle()
    assert.deepEqual(reads.map(([id, rs]) => [id, rs.index, text(rs.context)]), [['b', c.node('a').raw.status().commit, 'rb']])
  })

  it('a leader partitioned from the majority serves no read (no stale read)', () => {
    const { c, reads } = cluster()
    c.elect('a')
    c.isolate('a')
    c.node('a').raw.readIndex(bytes('stale'))
    for (let i = 0; i < 5; i++) c.tick(['a'])
    assert.equal(reads.length, 0)
  })

  it('a fresh leader defers reads until it commits an entry of its term', () => {
    const { c, reads } = cluster()
    c.filter = m => m.type !== 'appResp' // the no-op cannot commit
    c.elect('a')
    assert.equal(c.node('a').raw.raft.role, 'leader')
    c.node('a').raw.readIndex(bytes('early'))
    c.settle()
    assert.equal(reads.length, 0)
    c.filter = undefined
    c.tick()
    assert.equal(reads.length, 1)
    assert.ok(reads[0][1].index >= c.node('a').raw.raft.log.lastIndex())
  })

  it('bad input: an empty context is refused; with no leader the read is dropped with a typed error', () => {
    const { c } = cluster()
    assert.throws(() => c.node('a').raw.readIndex(new Uint8Array()), (e: Error) => e instanceof RaftInputError && /context/.test(e.message))
    assert.throws(() => c.node('a').raw.readIndex(bytes('x')), ProposalDroppedError)
  })
})
