// A node's graceful stop answers what still waits on it: once its Raft stops nothing commits, so a
// write in flight gets 'unavailable' (it is stopping) at once, and no waiter's timer keeps the
// process alive. Before, each waiter held a 10-30 s timer: when a whole cluster was stopped at once
// (a demo's Ctrl-C, a power-down), the node a stopping leader handed leadership to took 10 s to
// exit (its own proposals waited for a quorum that was leaving too).
import assert from 'node:assert/strict'
import { startLocalCluster, waitForAgreedLeader, type LocalCluster } from '../helpers/local-cluster.js'
import type { NodeError } from '../../src/node/errors.js'

describe('a node stopping with writes in flight', function () {
  this.timeout(60_000)
  let c: LocalCluster | undefined

  after(async () => { await c?.stop() })

  it('answers them unavailable at once and leaves nothing waiting', async () => {
    c = await startLocalCluster(3)
    const leader = await waitForAgreedLeader(c.nodes)
    for (const f of c.nodes.filter(n => n !== leader)) await f.stop() // no quorum is left
    const inFlight = leader.scheduler.submitTask({ task_type: 'echo', payload: { late: true } })
    inFlight.catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 300)) // proposed, waiting for a commit that cannot come
    const t0 = Date.now()
    await leader.stop()
    await assert.rejects(inFlight, (e: NodeError) => e.type === 'unavailable' && /stopping/.test(e.message) && /may have committed/.test(e.message))
    assert.ok(Date.now() - t0 < 5000, `answered ${Date.now() - t0} ms after the stop began`)
    const core = (leader as unknown as { core: { waiters: Map<string, unknown> } }).core
    assert.equal(core.waiters.size, 0, 'no waiter (nor its timer) is left')
    const late = await leader.scheduler.submitTask({ task_type: 'echo', payload: {} }).then(() => 'accepted', (e: NodeError) => e.type)
    assert.equal(late, 'unavailable', 'a write after the stop is refused, not retried for 30 s')
  })
})
