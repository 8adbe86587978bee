// Monitoring on real in-process nodes: getTaskStatus / getActiveTasks / getQueueStatistics while a
// task runs, and getTaskMetrics from the durable sqlite history (history.db): a known workload of
// 90 successes and 10 failures gives a 90 % success rate, on every node, and the same figures
// after a node restarts (rows are keyed by (task, attempt): replaying the log adds nothing).
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { startLocalCluster, waitForBids, addrsOf, base, type LocalCluster } from '../helpers/local-cluster.js'
import { eventually } from '../helpers/eventually.js'
import { startNode } from '../../src/node/node.js'
import type { ClusterNode, TaskMetrics } from '../../src/node/api-types.js'
import { WF_HANDLERS } from '../fixtures/workflow/ml-template.js'

describe('monitoring and metrics (2 real nodes)', function () {
  this.timeout(120_000)
  let c: LocalCluster

  before(async () => {
    c = await startLocalCluster(2, () => ({ handlers: [WF_HANDLERS], maxConcurrentTasks: 4 }))
    await waitForBids(c.nodes)
  })
  after(async () => { await c?.stop() })

  it('90 successes + 10 failures → 90 % success rate, per-device counts, on every node and after a restart', async () => {
    const before = await c.nodes[0]!.scheduler.getTaskMetrics({ period: '24h' })
    const s = c.nodes[0]!.scheduler
    const tasks = Array.from({ length: 100 }, (_, i) => ({ task_type: 'outcome', payload: { ms: 30, fail: i % 10 === 9 }, requirements: { max_retries: 0 } }))
    const { taskIds } = await s.submitBatch({ name: 'known workload', tasks })
    const recs = await Promise.all(taskIds.map(async id => await s.waitForResult(id, { timeoutMs: 60_000 })))
    assert.equal(recs.filter(r => r.status === 'completed').length, 90)
    assert.equal(recs.filter(r => r.status === 'failed').length, 10)
    const expectByDevice = new Map<string, { completed: number, failed: number }>()
    for (const r of recs) {
      const e = expectByDevice.get(r.deviceId!) ?? { completed: 0, failed: 0 }
      if (r.status === 'completed') e.completed++; else e.failed++
      expectByDevice.set(r.deviceId!, e)
    }

    const delta = (m: TaskMetrics): { total: number, completed: number, failed: number } =>
      ({ total: m.totalTasks - before.totalTasks, completed: m.completed - before.completed, failed: m.failed - before.failed })
    const check = (m: TaskMetrics, where: string): void => {
      assert.deepEqual(delta(m), { total: 100, completed: 90, failed: 10 }, where)
      assert.equal(m.successRate, Math.round(10_000 * m.completed / m.totalTasks) / 100, where)
      assert.ok(m.avgExecutionTime >= 0.02 && m.avgExecutionTime < 1, `${where}: avgExecutionTime ${m.avgExecutionTime} s`)
      assert.ok(m.deviceUtilization >= 0 && m.deviceUtilization <= 100)
      for (const [dev, e] of expectByDevice) {
        const got = m.byDevice[dev]!
        const prev = before.byDevice[dev] ?? { completed: 0, failed: 0 }
        assert.deepEqual({ completed: got.completed - prev.completed, failed: got.failed - prev.failed }, e, `${where}: device ${dev.slice(-6)}`)
        assert.ok(got.avgResponseTime > 0, 'avgResponseTime in ms')
      }
    }
    for (const n of c.nodes) {
      const m = await eventually(async () => {
        const x = await n.scheduler.getTaskMetrics({ period: '24h' })
        return x.totalTasks - before.totalTasks === 100 ? x : false
      }, { timeoutMs: 10_000, message: `history on ${n.name}` })
      check(m, n.name)
    }
    const exact = await c.nodes[0]!.scheduler.getTaskMetrics({ period: '24h' })
    // a fresh cluster: this workload is the whole history
    assert.equal(exact.totalTasks, 100)
    assert.equal(exact.successRate, 90)
    console.log(`      metrics: total ${exact.totalTasks}, success ${exact.successRate} %, avg exec ${exact.avgExecutionTime} s, utilization ${exact.deviceUtilization} %`)

    // restart n2 on the same data dir: the figures come back from history.db
    const n2 = c.nodes[1]!
    const m0 = await n2.scheduler.getTaskMetrics({ period: '24h' })
    await n2.stop()
    const again: ClusterNode = await startNode({
      ...base, bootstrapExpect: 2, name: 'n2', dataDir: join(c.dir, 'n2'), handlers: [WF_HANDLERS], maxConcurrentTasks: 4, bootstrap: addrsOf(c.nodes[0]!)
    })
    c.nodes[1] = again
    const m1 = await again.scheduler.getTaskMetrics({ period: '24h' })
    assert.deepEqual({ ...m1, deviceUtilization: 0 }, { ...m0, deviceUtilization: 0 }, 'same figures right after the restart')
    check(m1, 'n2 after restart')
    // once it has caught up with the log again, nothing was counted twice
    await eventually(() => again.raftStatus().appliedIndex >= c.nodes[0]!.raftStatus().commitIndex && again.raftStatus().appliedIndex > 0, { timeoutMs: 20_000, message: 'n2 caught up' })
    const m2 = await again.scheduler.getTaskMetrics({ period: '24h' })
    assert.equal(m2.totalTasks, m0.totalTasks)
    assert.equal(m2.successRate, m0.successRate)
  })

  it('getTaskStatus, getActiveTasks and getQueueStatistics show a running task', async () => {
    const s = c.followers()[0]!.scheduler
    const id = await s.submitTask({ task_type: 'outcome', payload: { ms: 2500 } })
    const live = await eventually(async () => {
      const t = await s.getTaskStatus(id)
      return t?.status === 'running' && t.progress > 0 && t.resourceUsage !== undefined ? t : false
    }, { timeoutMs: 10_000, message: 'running with progress and resource usage' })
    assert.ok(live.resourceUsage!.cpu >= 0 && live.resourceUsage!.memory > 0, JSON.stringify(live.resourceUsage))
    assert.ok(c.nodes.some(n => n.id === live.deviceId), 'deviceId is a cluster node')
    assert.equal(live.attempts.length, 1)
    assert.equal(live.attempts[0]!.deviceId, live.deviceId)
    assert.ok(live.progress > 0 && live.progress < 100)
    console.log(`      running task: progress ${live.progress} %, resourceUsage ${JSON.stringify(live.resourceUsage)}`)
    const active = await s.getActiveTasks()
    assert.ok(active.some(t => t.id === id && t.deviceId === live.deviceId))
    const q = await s.getQueueStatistics()
    assert.ok(q.running >= 1)
    assert.equal(typeof q.avgWaitTimeSeconds, 'number')
    assert.equal(typeof q.byPriority, 'object')
    const done = await s.waitForResult(id, { timeoutMs: 10_000 })
    assert.equal(done.status, 'completed')
    assert.equal(done.progress, 100)
    assert.ok(!(await s.getActiveTasks()).some(t => t.id === id))
  })

  it('a bad period is refused naming the field', async () => {
    await assert.rejects(c.nodes[0]!.scheduler.getTaskMetrics({ period: 'yesterday' }), (e: Error & { field?: string }) => e.field === 'period' && /period/.test(e.message))
  })
})
