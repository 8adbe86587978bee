// Single-server membership changes (Raft thesis §4.1, §4.2.1 learners / non-voting members):
// one pending change at a time, applied when the entry is applied; learners replicate, never vote.
import assert from 'node:assert/strict'
import { InstantCluster } from '../sim/instant-cluster.js'
import { ProposalDroppedError, RaftInputError } from '../../src/protocol/raft/errors.js'

const V = ['a', 'b', 'c']
const ticks = (c: InstantCluster, n: number): void => { for (let i = 0; i < n; i++) c.tick() }

function withSpare (): InstantCluster {
  const c = new InstantCluster(V, {}, 1, {}, ['d'])
  c.elect('a')
  return c
}

describe('raft membership changes', () => {
  it('a learner replicates and applies but does not count towards commit', () => {
    const c = withSpare()
    c.node('a').raw.proposeConfChange({ type: 'addLearner', nodeId: 'd' })
    c.settle()
    assert.deepEqual(c.node('a').raw.status().learners, ['d'])
    c.propose('a', 'x')
    assert.equal(c.node('d').appliedCommands, 1)
    assert.equal(c.node('d').hash, c.node('a').hash)
    // with b and c cut off, a and the learner d are no majority of voters {a,b,c}
    c.isolate('b'); c.isolate('c')
    const commit = c.node('a').raw.status().commit
    c.propose('a', 'y')
    assert.equal(c.node('d').raw.raft.log.lastIndex(), c.node('a').raw.raft.log.lastIndex())
    assert.equal(c.node('a').raw.status().commit, commit)
  })

  it('a learner never campaigns, even when it hears nothing', () => {
    const c = withSpare()
    c.node('a').raw.proposeConfChange({ type: 'addLearner', nodeId: 'd' })
    c.settle()
    c.isolate('d')
    for (let i = 0; i < 100; i++) c.tick(['d'])
    assert.equal(c.node('d').raw.raft.role, 'follower')
  })

  it('promoting a learner to voter changes the quorum (4 voters need 3)', () => {
    const c = withSpare()
    c.node('a').raw.proposeConfChange({ type: 'addLearner', nodeId: 'd' })
    c.settle()
    c.node('a').raw.proposeConfChange({ type: 'addVoter', nodeId: 'd' })
    c.settle()
    assert.deepEqual(c.node('a').raw.status().voters.sort(), ['a', 'b', 'c', 'd'])
    assert.deepEqual(c.node('d').conf.voters.sort(), ['a', 'b', 'c', 'd'])
    c.isolate('c'); c.isolate('d')
    const commit = c.node('a').raw.status().commit
    c.propose('a', 'needs 3 of 4')
    assert.equal(c.node('a').raw.status().commit, commit)
    c.heal()
    c.tick()
    assert.ok(c.node('a').raw.status().commit > commit)
  })

  it('only one conf change may be pending: a second is refused until the first is applied', () => {
    const c = withSpare()
    c.isolate('b'); c.isolate('c') // the first change cannot commit
    c.node('a').raw.proposeConfChange({ type: 'addLearner', nodeId: 'd' })
    c.settle()
    assert.throws(() => c.node('a').raw.proposeConfChange({ type: 'removeNode', nodeId: 'c' }), ProposalDroppedError)
    c.heal()
    c.tick()
    c.node('a').raw.proposeConfChange({ type: 'removeNode', nodeId: 'c' })
    c.settle()
    assert.deepEqual(c.node('a').raw.status().voters.sort(), ['a', 'b'])
  })

  it('removing the leader: it steps down once the change is applied and the rest elect a leader', () => {
    const c = new InstantCluster(V)
    c.elect('a')
    c.node('a').raw.proposeConfChange({ type: 'removeNode', nodeId: 'a' })
    c.settle()
    assert.equal(c.node('a').raw.raft.role, 'follower')
    assert.deepEqual(c.node('b').conf.voters.sort(), ['b', 'c'])
    ticks(c, 40)
    const leaders = c.leaders()
    assert.equal(leaders.length, 1)
    assert.notEqual(leaders[0].id, 'a')
    c.propose(leaders[0].id, 'after')
    assert.equal(c.node('b').appliedCommands, 1)
  })

  it('the voter left after a leader removed itself learns the commit from a refused vote (driver simulator seed 5152)', () => {
    // b leads {a,b} and removes itself; a holds the change, but every append telling a of its commit
    // is lost, and b holds one more entry than a. b applies the change and steps down: a still
    // counts b as a voter, and b refuses a's votes for its shorter log. Without the commit in the
    // refusal, a stays a pre-candidate for good.
    const c = new InstantCluster(['a', 'b'])
    c.elect('b')
    const b = c.node('b').raw
    const confIndex = b.raft.log.lastIndex() + 1
    c.filter = m => !(m.from === 'b' && m.to === 'a' && (m.type === 'app' || m.type === 'heartbeat') &&
      ((m.commit ?? 0) >= confIndex || (m.index ?? 0) >= confIndex))
    b.proposeConfChange({ type: 'removeNode', nodeId: 'b' })
    b.propose(new TextEncoder().encode('only on b'))
    c.settle()
    assert.equal(b.raft.role, 'follower')
    assert.deepEqual(c.node('b').conf.voters, ['a'])
    const a = c.node('a').raw
    assert.ok(a.raft.log.lastIndex() >= confIndex && a.raft.log.committed < confIndex)
    assert.deepEqual(a.status().voters.sort(), ['a', 'b'])
    ticks(c, 60)
    assert.equal(a.raft.role, 'leader')
    assert.deepEqual(a.status().voters, ['a'])
    c.propose('a', 'after')
    assert.equal(c.node('a').appliedCommands, 1)
  })

  it('bad conf changes are refused with a typed error naming the field, and change nothing', () => {
    const c = new InstantCluster(['a'])
    c.elect('a')
    const raw = c.node('a').raw
    const last = raw.raft.log.lastIndex()
    assert.throws(() => raw.proposeConfChange({ type: 'addVoter', nodeId: 'a' }), (e: Error) => e instanceof RaftInputError && /nodeId/.test(e.message))
    assert.throws(() => raw.proposeConfChange({ type: 'removeNode', nodeId: 'a' }), (e: Error) => e instanceof RaftInputError && /no voter/.test(e.message))
    assert.throws(() => raw.proposeConfChange({ type: 'removeNode', nodeId: 'zz' }), RaftInputError)
    assert.throws(() => raw.proposeConfChange({ type: 'bogus' as 'addVoter', nodeId: 'x' }), (e: Error) => /confChange.type/.test(e.message))
    assert.throws(() => raw.proposeConfChange({ type: 'addVoter', nodeId: '' }), (e: Error) => /confChange.nodeId/.test(e.message))
    assert.equal(raw.raft.log.lastIndex(), last)
  })

  it('a node added to a cluster bootstrapped at index 1 gets the configuration by snapshot', () => {
    const c = withSpare()
    c.node('a').raw.proposeConfChange({ type: 'addLearner', nodeId: 'd' })
    c.settle()
    const snaps = c.delivered.filter(m => m.type === 'snap' && m.to === 'd')
    assert.equal(snaps.length, 1)
    assert.deepEqual(c.node('d').raw.status().voters.sort(), ['a', 'b', 'c'])
    assert.deepEqual(c.node('d').raw.status().learners, ['d'])
  })
})
