// Log compaction and InstallSnapshot (Raft paper §7): the leader sends its snapshot to a follower
// that needs compacted entries; the follower replaces its log and state machine with it.
import assert from 'node:assert/strict'
import { InstantCluster } from '../sim/instant-cluster.js'
import { ent, flush, msg, single, storageWith } from '../sim/unit-helpers.js'

const V = ['a', 'b', 'c']

describe('raft snapshots and compaction', () => {
  it('a follower behind the compacted log is caught up by InstallSnapshot and converges', () => {
    const c = new InstantCluster(V, { snapshotEvery: 5, compactLag: 0 })
    c.elect('a')
    c.isolate('c')
    for (let i = 0; i < 30; i++) c.propose('a', `cmd${i}`)
    assert.ok(c.node('a').storage.firstIndex() > c.node('c').raw.raft.log.lastIndex() + 1, 'leader compacted past c')
    c.heal()
    c.tick()
    c.tick()
    const snaps = c.delivered.filter(m => m.type === 'snap' && m.to === 'c')
    assert.equal(snaps.length, 1)
    assert.equal(c.node('c').applied, c.node('a').applied)
    assert.equal(c.node('c').hash, c.node('a').hash)
    assert.equal(c.node('c').appliedCommands, 30)
    // and c keeps replicating normally afterwards
    c.propose('a', 'after')
    assert.equal(c.node('c').appliedCommands, 31)
    assert.equal(c.node('a').raw.status().progress.c.state, 'replicate')
  })

  it('a follower restores a snapshot: log replaced, commit = snapshot index, conf from the snapshot', () => {
    const n = single('b', V, {}, storageWith(V, [ent(1, 1), ent(2, 1, 'stale')], 1))
    const snapshot = { meta: { index: 10, term: 3, conf: { voters: ['a', 'b', 'c', 'd'], learners: [] } }, data: new Uint8Array([9]) }
    n.raw.step(msg({ type: 'snap', from: 'a', to: 'b', term: 3, snapshot }))
    const { msgs, readies } = flush(n)
    assert.equal(readies[0].snapshot?.meta.index, 10)
    assert.equal(readies[0].committedEntries.length, 0) // nothing to apply before the snapshot
    assert.equal(n.storage.firstIndex(), 11)
    assert.equal(n.raw.status().commit, 10)
    assert.equal(n.raw.status().applied, 10)
    assert.deepEqual(n.raw.status().voters.sort(), ['a', 'b', 'c', 'd'])
    assert.deepEqual(msgs.map(m => [m.type, m.index, m.reject === true]), [['appResp', 10, false]])
  })

  it('a snapshot already covered by the log only fast-forwards commit', () => {
    const n = single('b', V, {}, storageWith(V, [ent(1, 1), ent(2, 1), ent(3, 1)], 1))
    n.raw.step(msg({ type: 'snap', from: 'a', to: 'b', term: 1, snapshot: { meta: { index: 2, term: 1, conf: { voters: V, learners: [] } }, data: new Uint8Array() } }))
    const { readies } = flush(n)
    assert.equal(readies.some(r => r.snapshot !== undefined), false)
    assert.equal(n.raw.status().commit, 2)
    assert.equal(n.storage.lastIndex(), 3)
  })

  it('a lost snapshot reported as failed is retried', () => {
    const c = new InstantCluster(V, { snapshotEvery: 5, compactLag: 0 })
    c.elect('a')
    c.isolate('c')
    for (let i = 0; i < 12; i++) c.propose('a', `x${i}`)
    c.heal()
    let dropped = 0
    c.filter = m => !(m.type === 'snap' && dropped++ === 0) // the first snapshot is lost
    for (let i = 0; i < 5; i++) c.tick()
    assert.equal(dropped, 2)
    assert.equal(c.node('c').hash, c.node('a').hash)
  })

  it('a node restarted from storage resumes from its snapshot and re-applies the rest', () => {
    const c = new InstantCluster(V, { snapshotEvery: 4, compactLag: 1 })
    c.elect('a')
    for (let i = 0; i < 10; i++) c.propose('a', `y${i}`)
    const b = c.node('b')
    const hash = b.hash
    b.crash()
    b.restart()
    c.tick()
    assert.equal(b.hash, hash)
    assert.equal(b.appliedCommands, 10)
  })
})

describe('raft snapshots without delivery reports', () => {
  it('a lost snapshot that the driver never reports is resent after snapshotTimeoutTick', () => {
    const c = new InstantCluster(V, { snapshotEvery: 5, compactLag: 0 })
    c.elect('a')
    c.isolate('c')
    for (let i = 0; i < 12; i++) c.propose('a', `x${i}`)
    c.heal()
    let snaps = 0
    c.filter = m => !(m.type === 'snap' && snaps++ === 0) // the first snapshot vanishes
    c.reportSnapshots = false // a transport that cannot tell
    for (let i = 0; i < 20; i++) c.tick()
    assert.equal(snaps, 1, 'nothing resent before the timeout')
    assert.equal(c.node('a').raw.status().progress.c.state, 'snapshot')
    for (let i = 0; i < 40; i++) c.tick()
    assert.equal(snaps, 2)
    assert.equal(c.node('c').hash, c.node('a').hash)
  })
})
