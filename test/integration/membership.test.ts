// Joining as a learner, autopilot promotion up to `voters`, removal of a voter that stays dead.
import assert from 'node:assert/strict'
import { eventually } from '../helpers/eventually.js'
import { startLocalCluster, waitForAgreedLeader, type LocalCluster } from '../helpers/local-cluster.js'

describe('membership: join, promote, remove', function () {
  this.timeout(120_000)
  let c: LocalCluster
  after(async () => { await c?.stop() })

  it('nodes that find an existing cluster join as learners and are promoted up to the voter target; a dead voter is replaced', async () => {
    // one founder; the target is 3 voters; a voter silent for 3 s is removed
    c = await startLocalCluster(1, () => ({ voters: 3, deadVoterTimeoutMs: 3000, deviceTimeoutMs: 1500 }))
    const founder = c.nodes[0]!
    assert.deepEqual(founder.raftStatus().voters, [founder.id])
    const extra = { voters: 3, deadVoterTimeoutMs: 3000, deviceTimeoutMs: 1500 }
    const b = await c.add(extra)
    const d = await c.add(extra)
    await eventually(() => founder.raftStatus().voters.length === 3, { timeoutMs: 30_000, message: 'two promotions' })
    assert.deepEqual([...founder.raftStatus().voters].sort(), [founder.id, b.id, d.id].sort())
    // a fourth stays a learner: the target is 3
    const e = await c.add(extra)
    await eventually(() => founder.raftStatus().learners.includes(e.id), { timeoutMs: 20_000, message: 'fourth joins as learner' })
    await new Promise(resolve => setTimeout(resolve, 2000))
    assert.equal(c.leader().raftStatus().voters.length, 3)
    assert.ok(c.leader().raftStatus().learners.includes(e.id), 'still a learner')
    // the learner replicates: a task submitted on it completes
    const id = await e.scheduler.submitTask({ task_type: 'echo', payload: { from: 'learner' } })
    assert.equal((await e.scheduler.waitForResult(id, { timeoutMs: 20_000 })).status, 'completed')

    // a voter other than the leader dies: it is removed and the learner takes its seat
    const leader = c.leader()
    const victim = [b, d].find(x => x !== leader)!
    await victim.stop()
    const alive = c.nodes.filter(x => x !== victim)
    await eventually(() => {
      const st = c.leader().raftStatus()
      return !st.voters.includes(victim.id) && st.voters.includes(e.id) && st.voters.length === 3
    }, { timeoutMs: 40_000, message: 'dead voter replaced' })
    await waitForAgreedLeader(alive)
    const id2 = await e.scheduler.submitTask({ task_type: 'echo', payload: { after: 'removal' } })
    assert.equal((await e.scheduler.waitForResult(id2, { timeoutMs: 20_000 })).status, 'completed')
  })
})
