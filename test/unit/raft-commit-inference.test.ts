// Commit inference (src/protocol/raft/commit-inference.ts): a follower that with the leader is a
// majority commits an entry of the current term once (a) its own log is durable there, (b) it
// matches the leader's there, (c) the leader says its log is durable there — and not a moment
// before any of the four facts; the leader certifies (c) only in a settled configuration of <= 3 voters.
import assert from 'node:assert/strict'
import { ent, flush, msg, single, storageWith, type Single } from '../sim/unit-helpers.js'

const V = ['a', 'b', 'c']

/** follower b of leader a in term 2, handed the append of entries 1..n (term 2) and written */
function follower (n: number, durable?: number): Single {
  const b = single('b', V)
  const entries = Array.from({ length: n }, (_, i) => ent(i + 1, 2, `e${i + 1}`))
  b.raw.step(msg({ type: 'app', from: 'a', to: 'b', term: 2, index: 0, logTerm: 0, entries, commit: 0, ...(durable !== undefined ? { durable } : {}) }))
  flush(b)
  return b
}

describe('raft commit inference', () => {
  it('commits at the follower once its own log, the match and the leader\'s log are all durable', () => {
    const b = follower(3, 3)
    assert.equal(b.raw.status().commit, 0, 'nothing is durable here yet')
    b.raw.localDurable(2)
    flush(b)
    assert.equal(b.raw.status().commit, 2)
    assert.deepEqual(b.applied.map(e => e.index), [1, 2])
    b.raw.localDurable(3)
    flush(b)
    assert.equal(b.raw.status().commit, 3)
  })

  it('no stamp from the leader, no inference; a later "durable" message supplies it', () => {
    const b = follower(3)
    b.raw.localDurable(3)
    flush(b)
    assert.equal(b.raw.status().commit, 0)
    b.raw.step(msg({ type: 'durable', from: 'a', to: 'b', term: 2, index: 2 }))
    flush(b)
    assert.equal(b.raw.status().commit, 2, 'up to what the leader holds durably')
  })

  it('never beyond what matched the leader in this term, nor past what the driver was handed to write', () => {
    const b = follower(2, 2)
    // the leader claims more than it sent; the driver reports more than it was handed
    b.raw.step(msg({ type: 'durable', from: 'a', to: 'b', term: 2, index: 9 }))
    b.raw.localDurable(9)
    flush(b)
    assert.equal(b.raw.status().commit, 2)
  })

  it('a "durable" message of an older term, or from a stale leader, changes nothing', () => {
    const b = follower(2)
    b.raw.localDurable(2)
    b.raw.step(msg({ type: 'durable', from: 'a', to: 'b', term: 1, index: 2 }))
    flush(b)
    assert.equal(b.raw.status().commit, 0)
  })

  it('a new term forgets the last leader\'s stamps', () => {
    const b = follower(2)
    b.raw.localDurable(2)
    // c leads term 3; a's late message of term 2 is refused by the term rule, c has said nothing yet
    b.raw.step(msg({ type: 'heartbeat', from: 'c', to: 'b', term: 3, commit: 0 }))
    b.raw.step(msg({ type: 'durable', from: 'a', to: 'b', term: 2, index: 2 }))
    flush(b)
    assert.equal(b.raw.status().commit, 0)
    // entries of term 2 cannot be committed by counting in term 3 (§5.4.2), even with every fact
    b.raw.step(msg({ type: 'durable', from: 'c', to: 'b', term: 3, index: 2 }))
    b.raw.step(msg({ type: 'app', from: 'c', to: 'b', term: 3, index: 2, logTerm: 2, entries: [], commit: 0 }))
    flush(b)
    assert.equal(b.raw.status().commit, 0, 'entry 2 is of term 2')
    b.raw.step(msg({ type: 'app', from: 'c', to: 'b', term: 3, index: 2, logTerm: 2, entries: [ent(3, 3, 'noop')], commit: 0, durable: 3 }))
    flush(b)
    b.raw.localDurable(3)
    flush(b)
    assert.equal(b.raw.status().commit, 3, 'an entry of term 3 commits the older ones with it')
  })

  it('entries replaced by a new leader lose their durability until the driver reports it again', () => {
    // b holds 1..3 of term 1 (durable), c leads term 2 and replaces 2..3
    const b = single('b', V, {}, storageWith(V, [ent(1, 1), ent(2, 1), ent(3, 1)], 1))
    b.raw.localDurable(3)
    b.raw.step(msg({ type: 'app', from: 'c', to: 'b', term: 2, index: 1, logTerm: 1, entries: [ent(2, 2), ent(3, 2)], commit: 0, durable: 3 }))
    flush(b) // written, not yet synced: the old report of 3 was about the replaced entries
    assert.equal(b.raw.status().commit, 0)
    b.raw.localDurable(3)
    flush(b)
    assert.equal(b.raw.status().commit, 3)
  })

  it('the leader certifies only to a voter that is a majority with it, in a settled configuration', () => {
    const three = single('a', V)
    three.raw.campaign()
    flush(three)
    for (const id of ['b', 'c']) three.raw.step(msg({ type: 'voteResp', from: id, to: 'a', term: 1 }))
    flush(three)
    assert.equal(three.raw.status().role, 'leader')
    const applied = three.raw.status().applied
    assert.equal(three.raw.mayCertifyDurable('b', applied), true)
    assert.equal(three.raw.mayCertifyDurable('a', applied), false, 'not to itself')
    assert.equal(three.raw.mayCertifyDurable('z', applied), false, 'not to a stranger')
    // a conf change in the log, not applied yet: the follower cannot know which configuration counts
    three.raw.proposeConfChange({ type: 'addLearner', nodeId: 'l' })
    const pending = three.raw.status().lastIndex
    assert.equal(three.raw.mayCertifyDurable('b', pending - 1), false)
    assert.equal(three.raw.mayCertifyDurable('b', pending), true)

    const four = single('a', ['a', 'b', 'c', 'd'])
    four.raw.campaign()
    flush(four)
    for (const id of ['b', 'c']) four.raw.step(msg({ type: 'voteResp', from: id, to: 'a', term: 1 }))
    flush(four)
    assert.equal(four.raw.status().role, 'leader')
    assert.equal(four.raw.mayCertifyDurable('b', four.raw.status().applied), false, 'two of four are no majority')
  })

  it('the leader sends no commit-only append to a member that will infer the commit itself', () => {
    const a = single('a', V)
    a.raw.campaign()
    flush(a)
    for (const id of ['b', 'c']) a.raw.step(msg({ type: 'voteResp', from: id, to: 'a', term: 1 }))
    const noop = a.raw.status().lastIndex
    flush(a)
    for (const id of ['b', 'c']) a.raw.step(msg({ type: 'appResp', from: id, to: 'a', term: 1, index: noop }))
    flush(a) // both replicate now
    a.raw.propose(new Uint8Array([1]))
    const x = a.raw.status().lastIndex
    const sent = flush(a).msgs.filter(m => m.type === 'app')
    assert.deepEqual(sent.map(m => m.to).sort(), ['b', 'c'])
    a.raw.noteDurableTold('b', x) // what the driver does when its append or 'durable' message says so
    a.raw.step(msg({ type: 'appResp', from: 'b', to: 'a', term: 1, index: x }))
    const after = flush(a).msgs.filter(m => m.type === 'app')
    assert.equal(a.raw.status().commit, x)
    assert.deepEqual(after.map(m => [m.to, m.entries?.length, m.commit]), [['c', 0, x]], 'c was not told: it hears the commit; b infers it')
  })
})

