// The production Raft driver's pipeline, one scenario at a time on simulated time (SimScheduler) and
// a disk whose fsync takes a while (SimDisk): what the seeded simulator found, pinned down.
import assert from 'node:assert/strict'
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import { RaftDriver } from '../../src/node/raft/driver.js'
import type { Logger } from '../../src/node/log.js'
import type { Entry, Message } from '../../src/protocol/raft/types.js'
import { mulberry32 } from '../../src/sched/rng.js'
import { SimScheduler } from '../sim/sim-scheduler.js'
import { SimDisk } from '../sim/sim-disk.js'

const voters = ['a', 'b', 'c']
const enc = new TextEncoder()

function follower (errors: string[]): { d: RaftDriver, sched: SimScheduler, disk: SimDisk, sent: Message[], applied: Entry[] } {
  const sched = new SimScheduler()
  const disk = new SimDisk(new MemoryStorage({ conf: { voters, learners: [] }, bootstrapIndex: 1 }), { sched, fsyncMs: () => 50, stallMs: () => 0 })
  const sent: Message[] = []
  const applied: Entry[] = []
  const log: Logger = { debug () {}, info () {}, warn () {}, error (m) { errors.push(m) }, child () { return log } }
  const d = new RaftDriver({
    id: 'b', storage: disk, tickMs: 10, electionTicks: 100, rng: mulberry32(1), log, scheduler: sched,
    send: m => { sent.push(m) }, apply: e => { applied.push(e) },
    snapshotData: () => enc.encode(`state@${applied.length}`), restoreSnapshot: () => {},
    snapshotEntries: 2, applied: 1
  })
  d.start()
  return { d, sched, disk, sent, applied }
}

describe('RaftDriver pipeline (simulated time and disk)', () => {
  it('a snapshot from the leader written while an earlier Ready waits for its fsync does not stop the node', async () => {
    // Found by the simulator (seeds 107, 133, 172): the earlier Ready applied its entries, wanted
    // a local snapshot, and asked the storage for one older than the leader's it already held.
    const errors: string[] = []
    const { d, sched, sent } = follower(errors)
    const ents: Entry[] = [2, 3, 4].map(index => ({ term: 2, index, type: 'normal', data: enc.encode(`x${index}`) }))
    d.step({ type: 'app', from: 'a', to: 'b', term: 2, index: 1, logTerm: 1, entries: ents, commit: 4 })
    await sched.advanceTo(1) // written, fsync in flight until 51 ms
    const snap = { meta: { index: 10, term: 2, conf: { voters, learners: [] } }, data: enc.encode('leader state') }
    d.step({ type: 'snap', from: 'a', to: 'b', term: 2, snapshot: snap })
    await sched.advanceTo(200)
    assert.deepEqual(errors, [])
    assert.equal(d.appliedIndex, 10)
    assert.ok(sent.some(m => m.type === 'appResp' && m.index === 10), 'the snapshot is acknowledged')
    d.stop()
  })

  it('reports leadership with the term it was won in, though the core moved on before the fsync', async () => {
    // Found by the simulator (seed 1014): a leader's Ready was finished after the core had already
    // stepped down into a later term, and the node announced itself leader of that later term.
    const sched = new SimScheduler()
    const disk = new SimDisk(new MemoryStorage({ conf: { voters: ['a', 'b', 'c'], learners: [] }, bootstrapIndex: 1 }), { sched, fsyncMs: () => 50, stallMs: () => 0 })
    const roles: Array<[string, number]> = []
    const log: Logger = { debug () {}, info () {}, warn () {}, error () {}, child () { return log } }
    const d = new RaftDriver({
      id: 'a', storage: disk, tickMs: 10, electionTicks: 100, rng: mulberry32(1), log, scheduler: sched, tuning: { preVote: false },
      send: () => {}, apply: () => {}, onRoleChange: (role, _l, term) => { roles.push([role, term]) },
      snapshotData: () => new Uint8Array(0), restoreSnapshot: () => {}, snapshotEntries: 1_000_000, applied: 1
    })
    d.start()
    d.raft.campaign()
    d.schedule()
    await sched.advanceTo(100) // candidate of term 2, vote durable
    d.step({ type: 'voteResp', from: 'b', to: 'a', term: 2 })
    await sched.advanceTo(101) // leader of term 2: its Ready waits for the fsync of its no-op
    d.step({ type: 'app', from: 'c', to: 'a', term: 3, index: 1, logTerm: 1, entries: [], commit: 1 }) // a leader of term 3
    await sched.advanceTo(300)
    assert.deepEqual(roles.filter(([r]) => r === 'leader'), [['leader', 2]])
    d.stop()
  })
})
