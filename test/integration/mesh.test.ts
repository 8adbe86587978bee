// The mesh end to end with real libp2p nodes on 127.0.0.1 and real sqlite files (issue 4).
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode } from '../../src/node/node.js'
import type { ClusterNode } from '../../src/node/api-types.js'
import { generateClusterKey } from '../../src/node/host/cluster-key.js'
import { scoreDevice } from '../../src/sched/score.js'
import { defaultRequirements } from '../../src/sched/requirements.js'
import { eventually } from '../helpers/eventually.js'
import { base, startLocalCluster, waitForAgreedLeader, waitForBids, addrsOf, type LocalCluster } from '../helpers/local-cluster.js'

describe('mesh: real nodes on loopback', function () {
  this.timeout(120_000)

  it('three nodes with no bootstrap addresses find each other by mDNS and elect one leader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-mdns-'))
    // a cluster name of its own keeps this test's mDNS traffic apart from any other running test
    const clusterName = `mdns-${process.pid}-${Date.now()}`
    const nodes: ClusterNode[] = []
    try {
      nodes.push(...await Promise.all([1, 2, 3].map(i => startNode({
        ...base, mdns: true, clusterName, bootstrapExpect: 3, name: `m${i}`, dataDir: join(dir, `m${i}`)
      }))))
      const leader = await waitForAgreedLeader(nodes, 40_000)
      assert.equal(nodes.filter(n => n.raftStatus().role === 'leader').length, 1)
      assert.deepEqual([...leader.raftStatus().voters].sort(), nodes.map(n => n.id).sort(), 'all three are voters')
    } finally {
      await Promise.all(nodes.map(n => n.stop()))
      rmSync(dir, { recursive: true, force: true })
    }
  })

  describe('placement on a 3-node cluster (n3 is a phone)', () => {
    let c: LocalCluster
    before(async () => {
      const cpu = [85, 5, 60]
      c = await startLocalCluster(3, i => ({
        ...(i === 2 ? { role: 'mobile' as const } : {}),
        loadSampler: () => ({ cpuUsage: cpu[i]!, memoryUsage: 40, memoryUsedGb: 1 })
      }))
      await waitForBids(c.nodes)
    })
    after(async () => { await c?.stop() })

    it('a task submitted on a follower runs on the best-scoring device', async () => {
      // n1 and n3 report busy CPUs, n2 an idle one: n2 scores best (CPU weighs 40 %)
      const follower = c.followers()[0]!
      const ranked = (await c.leader().nodes()).map(n => ({ id: n.id, score: scoreDevice(n, defaultRequirements()) })).sort((a, b) => b.score - a.score)
      assert.equal(ranked[0]!.id, c.nodes[1]!.id, 'the simulated loads make n2 the best device')
      const id = await follower.scheduler.submitTask({ task_type: 'echo', payload: { hello: 'world' } })
      const rec = await follower.scheduler.waitForResult(id, { timeoutMs: 20_000 })
      assert.equal(rec.status, 'completed')
      assert.deepEqual(rec.result, { hello: 'world' })
      assert.equal(rec.deviceId, c.nodes[1]!.id)
    })

    it('a burst spreads over the devices instead of piling on one', async () => {
      const follower = c.followers()[0]!
      const ids = await Promise.all(Array.from({ length: 30 }, () => follower.scheduler.submitTask({ task_type: 'sleep', payload: { duration: 0.3 } })))
      const recs = await Promise.all(ids.map(id => follower.scheduler.waitForResult(id, { timeoutMs: 30_000 })))
      const devices = new Set(recs.map(r => r.deviceId))
      assert.ok(recs.every(r => r.status === 'completed'))
      assert.equal(devices.size, 3, 'every device got some of the burst')
    })

    it('a task requiring role mobile runs only on the node started with that role', async () => {
      const phone = c.nodes[2]!
      const ids = await Promise.all(Array.from({ length: 6 }, () => c.nodes[0]!.scheduler.submitTask({
        task_type: 'system_info', payload: {}, requirements: { required_role: 'mobile' }
      })))
      for (const id of ids) {
        const rec = await c.nodes[0]!.scheduler.waitForResult(id, { timeoutMs: 20_000 })
        assert.equal(rec.status, 'completed')
        assert.equal(rec.deviceId, phone.id)
      }
    })

    it('a task with unmet requirements stays pending and its status says why', async () => {
      const follower = c.followers()[0]!
      const id = await follower.scheduler.submitTask({ task_type: 'echo', payload: {}, requirements: { min_cpu_cores: 512 } })
      const rec = await eventually(async () => {
        const r = await follower.scheduler.getTaskStatus(id)
        return r?.pendingReason !== undefined ? r : false
      }, { timeoutMs: 10_000 })
      assert.equal(rec.status, 'pending')
      assert.match(rec.pendingReason!, /min_cpu_cores: needs 512/)
      const unknown = await follower.scheduler.submitTask({ task_type: 'gpu_train', payload: {} })
      const r2 = await eventually(async () => (await follower.scheduler.getTaskStatus(unknown))?.pendingReason ?? false, { timeoutMs: 10_000 })
      assert.match(r2, /gpu_train/)
      await follower.scheduler.cancelTask(id)
      await follower.scheduler.cancelTask(unknown)
    })

    it('1,000 echo tasks from two submitting nodes at once all complete, each recorded once', async () => {
      const [a, b] = c.followers().length >= 2 ? c.followers() : [c.nodes[0]!, c.nodes[1]!]
      const before = (await c.leader().scheduler.listTasks({ limit: 100_000 })).length
      const submit = (n: ClusterNode, k: number): Array<Promise<string>> =>
        Array.from({ length: 500 }, (_, i) => n.scheduler.submitTask({ task_type: 'echo', payload: { k, i } }))
      const ids = await Promise.all([...submit(a!, 0), ...submit(b!, 1)])
      assert.equal(new Set(ids).size, 1000)
      const recs = await Promise.all(ids.map(id => a!.scheduler.waitForResult(id, { timeoutMs: 60_000 })))
      assert.ok(recs.every(r => r.status === 'completed'), 'all completed')
      assert.ok(recs.every(r => r.attempts.filter(x => x.status === 'completed').length === 1), 'one completed attempt each')
      const seen = new Set(recs.map(r => `${(r.result as any).k}:${(r.result as any).i}`))
      assert.equal(seen.size, 1000, 'every payload came back once')
      const after = await c.leader().scheduler.listTasks({ limit: 100_000 })
      assert.equal(after.length - before, 1000, 'no task recorded twice')
      // every node applied the same outcome
      for (const n of c.nodes) {
        await eventually(async () => {
          for (const id of ids.slice(0, 50)) if ((await n.scheduler.getTaskStatus(id))?.status !== 'completed') return false
          return true
        }, { timeoutMs: 10_000 })
      }
    })
  })

  it('a node with another cluster key can neither join nor submit', async () => {
    const key = generateClusterKey()
    const c = await startLocalCluster(1, () => ({ clusterKey: key }))
    const dir = mkdtempSync(join(tmpdir(), 'rc-key-'))
    let stranger: ClusterNode | undefined
    try {
      stranger = await startNode({
        ...base, clusterKey: generateClusterKey(), bootstrap: addrsOf(c.nodes[0]!), bootstrapExpect: 2,
        name: 'stranger', dataDir: join(dir, 's'), writeDeadlineMs: 3000
      })
      await new Promise(resolve => setTimeout(resolve, 3000))
      assert.equal((await c.nodes[0]!.nodes()).length, 1, 'the cluster does not see the stranger')
      assert.equal(stranger.raftStatus().leaderId, null)
      await assert.rejects(stranger.scheduler.submitTask({ task_type: 'echo', payload: {} }), (err: any) => err.type === 'no_leader' || err.type === 'network_error')
      assert.equal((await c.nodes[0]!.scheduler.listTasks()).length, 0)
    } finally {
      await stranger?.stop()
      await c.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
