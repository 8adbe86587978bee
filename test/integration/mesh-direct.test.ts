// Direct links in whole nodes (real libp2p nodes on 127.0.0.1): members carry their Raft, client and
// exec traffic over them, a node started without them still works beside the others (its peers
// fall back to libp2p streams), and the status and metrics say which is which.
import assert from 'node:assert/strict'
import { ClusterMetrics } from '../../src/node/api/prometheus.js'
import { eventually } from '../helpers/eventually.js'
import { startLocalCluster, type LocalCluster } from '../helpers/local-cluster.js'

describe('mesh: direct links between real nodes', function () {
  this.timeout(120_000)
  let c: LocalCluster | undefined

  afterEach(async () => { await c?.stop(); c = undefined })

  it('a 3-node cluster runs tasks over direct links; a 4th node without them gets work over libp2p', async () => {
    c = await startLocalCluster(3)
    const follower = c.followers()[0]!
    const ids = await Promise.all(Array.from({ length: 20 }, async (_, i) => await follower.scheduler.submitTask({ task_type: 'echo', payload: { i } })))
    for (const id of ids) assert.equal((await follower.scheduler.waitForResult(id, { timeoutMs: 20_000 })).status, 'completed')
    for (const n of c.nodes) {
      const d = n.directLinks?.()
      assert.ok(d !== undefined && d.port > 0, `${n.name} has direct links`)
      // followers talk to the leader only; the leader to both
      const peers = n === c.leader() ? 2 : 1
      assert.ok(d.open >= 2 && d.peers >= peers, `${n.name}: links to ${peers} peer(s) (${JSON.stringify(d)})`)
      assert.equal(d.failures, 0)
    }
    const text = await new ClusterMetrics(c.leader()).render()
    const open = Number(/^retire_cluster_direct_links (\d+)$/m.exec(text)?.[1])
    assert.ok(open >= 2, `metrics show the leader's links: ${open}`)
    assert.match(text, /^retire_cluster_direct_link_failures_total 0$/m)

    // a node without direct links joins; work that must run on it gets there over libp2p streams
    const plain = await c.add({ directLinks: false })
    assert.equal(plain.directLinks?.(), undefined)
    await eventually(() => c!.nodes.every(n => n.raftStatus().voters.length + n.raftStatus().learners.length === 4), { timeoutMs: 30_000, message: 'the 4th node is a member' })
    const others = c.nodes.filter(n => n !== plain).map(n => n.id)
    const id = await follower.scheduler.submitTask({ task_type: 'echo', payload: { on: 'plain' }, requirements: { exclude_devices: others } })
    const rec = await follower.scheduler.waitForResult(id, { timeoutMs: 30_000 })
    assert.equal(rec.status, 'completed')
    assert.equal(rec.deviceId, plain.id)
    const leader = c.leader()
    const ld = leader.directLinks!()!
    assert.ok(ld.failures >= 1, `the leader tried and fell back (${JSON.stringify(ld)})`)
    assert.ok(ld.peers >= 2 && ld.open > 0, `still direct to the others (${JSON.stringify(ld)})`)
  })
})
