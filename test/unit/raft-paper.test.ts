// One test (or a few) per rule of Figure 2 of the Raft paper (Ongaro & Ousterhout, 2014), citing
// the section, in the spirit of etcd's raft_paper_test.go. Nodes are driven by hand.
import assert from 'node:assert/strict'
import { bytes, ent, flush, msg, single, storageWith, text } from '../sim/unit-helpers.js'
import { InstantCluster } from '../sim/instant-cluster.js'
import { ProposalDroppedError } from '../../src/protocol/raft/errors.js'

const V = ['a', 'b', 'c']

/** make `a` leader of term 1 in a hand-driven single node by granting votes */
function leaderA (cfg = {}): ReturnType<typeof single> {
  const n = single('a', V, cfg)
  n.raw.campaign()
  flush(n)
  n.raw.step(msg({ type: 'voteResp', from: 'b', to: 'a', term: 1 }))
  flush(n)
  assert.equal(n.raw.raft.role, 'leader')
  return n
}

describe('raft Figure 2: all servers', () => {
  it('§5.1 a request or response with a higher term makes the node a follower of that term', () => {
    for (const type of ['app', 'heartbeat', 'vote', 'appResp', 'voteResp', 'heartbeatResp'] as const) {
      const n = leaderA()
      n.raw.step(msg({ type, from: 'b', to: 'a', term: 5, index: 0, logTerm: 0 }))
      assert.equal(n.raw.raft.term, 5, type)
      assert.equal(n.raw.raft.role, 'follower', type)
    }
  })

  it('§5.3 committed entries are handed to the driver in order, once, and applied advances', () => {
    const n = leaderA()
    n.raw.propose(bytes('x'))
    flush(n)
    n.raw.step(msg({ type: 'appResp', from: 'b', to: 'a', term: 1, index: 2 }))
    const { readies } = flush(n)
    const committed = readies.flatMap(r => r.committedEntries)
    assert.deepEqual(committed.map(e => e.index), [1, 2])
    assert.equal(text(committed[1].data), 'x')
    assert.equal(n.raw.status().applied, 2)
    assert.equal(n.raw.hasReady(), false)
  })
})

describe('raft Figure 2: followers and candidates (§5.2)', () => {
  it('a follower whose election timeout elapses becomes a candidate: term+1, votes for itself, asks all', () => {
    const n = single('a', V)
    const timeout = n.raw.raft.randomizedElectionTimeout
    for (let i = 0; i < timeout - 1; i++) n.raw.tick()
    assert.equal(n.raw.raft.role, 'follower')
    n.raw.tick()
    const { msgs } = flush(n)
    assert.equal(n.raw.raft.role, 'candidate')
    assert.equal(n.raw.raft.term, 1)
    assert.equal(n.raw.raft.vote, 'a')
    assert.deepEqual(msgs.filter(m => m.type === 'vote').map(m => m.to).sort(), ['b', 'c'])
    assert.equal(n.storage.initialState().hardState.vote, 'a') // the vote is durable before sending
  })

  it('the election timeout is randomized in [electionTick, 2*electionTick)', () => {
    const seen = new Set<number>()
    for (let seed = 1; seed < 40; seed++) {
      const n = single('a', V, { rng: (() => { let x = seed; return () => ((x = (x * 7919 + 13) % 1000) / 1000) })() })
      const t = n.raw.raft.randomizedElectionTimeout
      assert.ok(t >= 10 && t < 20, `timeout ${t}`)
      seen.add(t)
    }
    assert.ok(seen.size > 3)
  })

  it('a candidate with votes from a majority becomes leader', () => {
    const n = single('a', V)
    n.raw.campaign(); flush(n)
    assert.equal(n.raw.raft.role, 'candidate')
    n.raw.step(msg({ type: 'voteResp', from: 'c', to: 'a', term: 1 }))
    flush(n)
    assert.equal(n.raw.raft.role, 'leader')
  })

  it('a candidate rejected by a majority returns to follower', () => {
    const n = single('a', V)
    n.raw.campaign(); flush(n)
    n.raw.step(msg({ type: 'voteResp', from: 'b', to: 'a', term: 1, reject: true }))
    n.raw.step(msg({ type: 'voteResp', from: 'c', to: 'a', term: 1, reject: true }))
    assert.equal(n.raw.raft.role, 'follower')
  })

  it('a candidate receiving AppendEntries from a leader of its term becomes follower', () => {
    const n = single('a', V)
    n.raw.campaign(); flush(n)
    n.raw.step(msg({ type: 'app', from: 'b', to: 'a', term: 1, index: 0, logTerm: 0, entries: [], commit: 0 }))
    assert.equal(n.raw.raft.role, 'follower')
    assert.equal(n.raw.raft.lead, 'b')
  })

  it('a candidate whose election times out starts a new election in a higher term', () => {
    const n = single('a', V)
    n.raw.campaign(); flush(n)
    for (let i = 0; i < 20; i++) n.raw.tick()
    assert.equal(n.raw.raft.role, 'candidate')
    assert.equal(n.raw.raft.term, 2)
  })

  it('a follower that heard from the leader does not time out', () => {
    const n = single('a', V)
    for (let i = 0; i < 30; i++) {
      n.raw.tick()
      n.raw.step(msg({ type: 'heartbeat', from: 'b', to: 'a', term: 1, commit: 0 }))
    }
    assert.equal(n.raw.raft.role, 'follower')
    assert.equal(n.raw.raft.lead, 'b')
  })
})

describe('raft Figure 2: RequestVote receiver', () => {
  it('§5.1 rejects a candidate of a lower term, telling it the current term', () => {
    const n = single('a', V, {}, storageWith(V, [], 3))
    n.raw.step(msg({ type: 'vote', from: 'b', to: 'a', term: 2, index: 0, logTerm: 0 }))
    assert.equal(n.raw.raft.vote, null)
    assert.equal(n.raw.raft.term, 3)
    const r = flush(n).msgs
    assert.deepEqual(r.map(m => [m.type, m.to, m.term, m.reject]), [['voteResp', 'b', 3, true]])
  })

  it('§5.1 a candidate told of a higher term becomes follower in it (and can then win the next)', () => {
    const n = single('b', V, {}, storageWith(V, [ent(1, 1)], 1))
    n.raw.campaign(); flush(n)
    n.raw.step(msg({ type: 'voteResp', from: 'a', to: 'b', term: 7, reject: true }))
    assert.equal(n.raw.raft.role, 'follower')
    assert.equal(n.raw.raft.term, 7)
  })

  it('§5.2 grants one vote per term, first come; repeats it to the same candidate', () => {
    const n = single('a', V)
    n.raw.step(msg({ type: 'vote', from: 'b', to: 'a', term: 1, index: 0, logTerm: 0 }))
    n.raw.step(msg({ type: 'vote', from: 'c', to: 'a', term: 1, index: 0, logTerm: 0 }))
    n.raw.step(msg({ type: 'vote', from: 'b', to: 'a', term: 1, index: 0, logTerm: 0 }))
    const resps = flush(n).msgs.filter(m => m.type === 'voteResp')
    assert.deepEqual(resps.map(m => [m.to, m.reject === true]), [['b', false], ['c', true], ['b', false]])
  })

  it('§5.4.1 rejects a candidate whose log is less up to date (last term, then length)', () => {
    const log = [ent(1, 1), ent(2, 2)]
    const cases: Array<[number, number, boolean]> = [
      [2, 1, false], // lower last term
      [1, 2, false], // same term, shorter
      [2, 2, true], // equal
      [3, 2, true], // longer
      [1, 3, true] // higher last term, shorter
    ]
    for (const [index, logTerm, grant] of cases) {
      const n = single('a', V, {}, storageWith(V, log, 2))
      n.raw.step(msg({ type: 'vote', from: 'b', to: 'a', term: 3, index, logTerm }))
      const r = flush(n).msgs.find(m => m.type === 'voteResp')
      assert.equal(r?.reject !== true, grant, `index ${index} logTerm ${logTerm}`)
    }
  })
})

describe('raft Figure 2: AppendEntries receiver', () => {
  it('§5.1 replies with its term to a leader of a lower term', () => {
    const n = single('a', V, {}, storageWith(V, [], 3))
    n.raw.step(msg({ type: 'app', from: 'b', to: 'a', term: 2, index: 0, logTerm: 0, entries: [ent(1, 2)], commit: 0 }))
    const { msgs } = flush(n)
    assert.equal(n.raw.raft.log.lastIndex(), 0)
    assert.equal(msgs[0]?.term, 3)
  })

  it('§5.3 rejects when the log has no entry at prevLogIndex with prevLogTerm, with a backtracking hint', () => {
    const n = single('a', V, {}, storageWith(V, [ent(1, 1), ent(2, 1)], 2))
    n.raw.step(msg({ type: 'app', from: 'b', to: 'a', term: 2, index: 3, logTerm: 2, entries: [], commit: 0 }))
    const r = flush(n).msgs[0]
    assert.equal(r.type, 'appResp')
    assert.equal(r.reject, true)
    assert.equal(r.rejectHint, 2)
    assert.equal(r.logTerm, 1)
  })

  it('§5.3 deletes a conflicting entry and all that follow, then appends new ones', () => {
    const n = single('a', V, {}, storageWith(V, [ent(1, 1), ent(2, 1, 'old'), ent(3, 1, 'old')], 1))
    n.raw.step(msg({ type: 'app', from: 'b', to: 'a', term: 2, index: 1, logTerm: 1, entries: [ent(2, 2, 'new')], commit: 0 }))
    flush(n)
    assert.equal(n.storage.lastIndex(), 2)
    assert.equal(n.storage.term(2), 2)
    assert.equal(text(n.storage.entries(2, 3)[0].data), 'new')
  })

  it('§5.3 keeps entries that match (a stale duplicate append truncates nothing)', () => {
    const n = single('a', V, {}, storageWith(V, [ent(1, 1), ent(2, 1), ent(3, 1)], 1))
    n.raw.step(msg({ type: 'app', from: 'b', to: 'a', term: 1, index: 0, logTerm: 0, entries: [ent(1, 1)], commit: 0 }))
    flush(n)
    assert.equal(n.storage.lastIndex(), 3)
  })

  it('§5.3 sets commitIndex = min(leaderCommit, index of last new entry)', () => {
    const n = single('a', V)
    n.raw.step(msg({ type: 'app', from: 'b', to: 'a', term: 1, index: 0, logTerm: 0, entries: [ent(1, 1), ent(2, 1)], commit: 5 }))
    flush(n)
    assert.equal(n.raw.status().commit, 2)
    assert.equal(n.storage.initialState().hardState.commit, 2)
  })
})

describe('raft Figure 2: leaders', () => {
  it('§5.2/§8 upon election appends a no-op of its term and sends AppendEntries to all', () => {
    const n = single('a', V)
    n.raw.campaign(); flush(n)
    n.raw.step(msg({ type: 'voteResp', from: 'b', to: 'a', term: 1 }))
    const { msgs } = flush(n)
    assert.equal(n.storage.lastIndex(), 1)
    assert.equal(n.storage.entries(1, 2)[0].data.length, 0)
    assert.deepEqual(msgs.filter(m => m.type === 'app').map(m => m.to).sort(), ['b', 'c'])
  })

  it('§5.2 sends heartbeats every heartbeatTick while idle, carrying min(match, commit)', () => {
    const n = leaderA()
    n.raw.tick()
    const hb = flush(n).msgs.filter(m => m.type === 'heartbeat')
    assert.equal(hb.length, 2)
    assert.ok(hb.every(m => m.commit === 0))
  })

  it('§5.3 appends a client command to its log and replicates it', () => {
    const n = leaderA()
    n.raw.step(msg({ type: 'appResp', from: 'b', to: 'a', term: 1, index: 1 }))
    flush(n)
    n.raw.propose(bytes('cmd'))
    const apps = flush(n).msgs.filter(m => m.type === 'app' && m.to === 'b')
    assert.equal(apps.length, 1)
    assert.equal(text(apps[0].entries?.[0].data ?? new Uint8Array()), 'cmd')
  })

  it('§5.3 on rejection decrements nextIndex and retries (fast backtracking via hint)', () => {
    // a holds [1:1, 2:1] and leads term 2; its first probe to b is at prevIndex 2
    const n = single('a', V, {}, storageWith(V, [ent(1, 1), ent(2, 1)], 1))
    n.raw.campaign(); flush(n)
    n.raw.step(msg({ type: 'voteResp', from: 'b', to: 'a', term: 2 }))
    const probe = flush(n).msgs.find(m => m.type === 'app' && m.to === 'b')
    assert.equal(probe?.index, 2)
    // b has an empty log: rejects with hint 0, so a jumps straight to prevIndex 0
    n.raw.step(msg({ type: 'appResp', from: 'b', to: 'a', term: 2, index: 2, reject: true, rejectHint: 0, logTerm: 0 }))
    const retry = flush(n).msgs.find(m => m.type === 'app' && m.to === 'b')
    assert.equal(retry?.index, 0)
    assert.equal(retry?.entries?.length, 3)
  })

  it('§5.3/§5.4.2 commits an index once stored on a majority, only if of the current term', () => {
    // a leads term 3 with an old entry of term 1 at index 1
    const n = single('a', V, {}, storageWith(V, [ent(1, 1, 'old')], 2))
    n.raw.campaign(); flush(n)
    n.raw.step(msg({ type: 'voteResp', from: 'b', to: 'a', term: 3 }))
    flush(n)
    // b stores index 1 only (old term): not committed (§5.4.2, Figure 8)
    n.raw.step(msg({ type: 'appResp', from: 'b', to: 'a', term: 3, index: 1 }))
    flush(n)
    assert.equal(n.raw.status().commit, 0)
    // b stores the no-op of term 3 at index 2: both commit
    n.raw.step(msg({ type: 'appResp', from: 'b', to: 'a', term: 3, index: 2 }))
    flush(n)
    assert.equal(n.raw.status().commit, 2)
  })

  it('proposals on a follower are dropped with a typed error naming the leader', () => {
    const c = new InstantCluster(V)
    c.elect('a')
    assert.throws(() => c.node('b').raw.propose(bytes('x')), (e: Error) => e instanceof ProposalDroppedError && /leader is a/.test(e.message))
  })

  it('a cluster replicates and applies the same commands everywhere, surviving a follower crash', () => {
    const c = new InstantCluster(V)
    c.elect('a')
    c.propose('a', 'one')
    c.node('c').crash()
    c.propose('a', 'two')
    c.node('c').restart()
    c.tick()
    c.propose('a', 'three')
    for (const n of c.nodes.values()) assert.equal(n.appliedCommands, 3, n.id)
    assert.equal(new Set([...c.nodes.values()].map(n => n.hash)).size, 1)
  })
})
