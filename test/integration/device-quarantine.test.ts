// Reliability on real nodes (issue 13): a node whose 'flaky' handler fails every task is quarantined
// after two failures of distinct tasks, gets no work while quarantined (the pending reason says so),
// is on probation once the quarantine ends (it gets work again), and one failure on probation
// quarantines it again for twice as long. The quarantine is shortened to 3 s through the replicated
// setting (the default is 1 h).
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { startLocalCluster, waitForBids, type LocalCluster } from '../helpers/local-cluster.js'
import { eventually } from '../helpers/eventually.js'
import type { ClusterNode } from '../../src/node/api-types.js'

const FAILS = fileURLToPath(new URL('../fixtures/handlers/flaky-fails.ts', import.meta.url))
const WORKS = fileURLToPath(new URL('../fixtures/handlers/flaky-works.ts', import.meta.url))
const QUARANTINE_MS = 3000

describe('reliability: quarantine and probation on real nodes', function () {
  this.timeout(60_000)
  let c: LocalCluster

  before(async () => {
    c = await startLocalCluster(3, i => ({ handlers: [i === 1 ? FAILS : WORKS] }), {
      reliability: { quarantineBaseMs: QUARANTINE_MS }
    })
    await waitForBids(c.nodes)
  })
  after(async () => { await c?.stop() })

  /** a task pinned to `to` (every other node excluded) */
  const pinned = (to: ClusterNode, type: string, n: number): unknown =>
    ({ task_type: type, payload: { n }, requirements: { exclude_devices: c.nodes.filter(x => x !== to).map(x => x.id) } })
  const healthOf = async (id: string): Promise<NonNullable<Awaited<ReturnType<ClusterNode['nodes']>>[number]['reliability']> | undefined> =>
    (await c.nodes[0]!.nodes()).find(n => n.id === id)?.reliability

  it('quarantines the failing node, keeps work off it, then puts it on probation', async () => {
    const s = c.nodes[0]!.scheduler
    const bad = c.nodes[1]!
    await eventually(async () => (await c.nodes[0]!.nodes()).filter(n => n.taskTypes.includes('flaky')).length === 3, { timeoutMs: 10_000, message: 'flaky advertised' })
    // every node completes something first: the quarantine share counts devices with recent results
    for (const [i, node] of c.nodes.entries()) {
      if (node === bad) continue
      const r = await s.waitForResult(await s.submitTask(pinned(node, 'flaky', i)), { timeoutMs: 15_000 })
      assert.equal(r.status, 'completed')
    }
    const warm = await s.waitForResult(await s.submitTask(pinned(bad, 'echo', 0)), { timeoutMs: 15_000 })
    assert.equal(warm.status, 'completed')
    assert.equal((await healthOf(bad.id))?.health, 'ok')

    // two distinct tasks fail on the bad node → quarantined
    for (const n of [1, 2]) {
      const r = await s.waitForResult(await s.submitTask(pinned(bad, 'flaky', n)), { timeoutMs: 15_000 })
      assert.equal(r.status, 'failed')
      assert.equal(r.error?.type, 'execution_error')
    }
    const q = await eventually(async () => { const h = await healthOf(bad.id); return h?.health === 'quarantined' ? h : false }, { timeoutMs: 5000, message: 'quarantined' })
    assert.equal(q.failures > 1.9, true)
    assert.ok(q.quarantinedUntil !== undefined && q.quarantinedUntil - Date.now() <= QUARANTINE_MS)
    const t0 = Date.now()

    // no work while quarantined: a task only it may run waits, and says why
    const waiting = await s.submitTask(pinned(bad, 'echo', 3))
    await eventually(async () => /quarantined/.test((await s.getTaskStatus(waiting))?.pendingReason ?? ''), { timeoutMs: 3000, message: 'pending reason names the quarantine' })
    assert.equal((await s.getTaskStatus(waiting))?.status, 'pending')
    // unpinned work goes to the healthy nodes
    const free = await s.waitForResult(await s.submitTask({ task_type: 'flaky', payload: { n: 4 } }), { timeoutMs: 15_000 })
    assert.equal(free.status, 'completed')
    assert.notEqual(free.deviceId, bad.id)

    // released: on probation it gets work again (the waiting task runs there)
    const done = await s.waitForResult(waiting, { timeoutMs: QUARANTINE_MS + 10_000 })
    assert.equal(done.status, 'completed')
    assert.equal(done.deviceId, bad.id)
    assert.ok(Date.now() - t0 >= QUARANTINE_MS - 1000, 'not before the quarantine ended')
    // its success ended probation; a second quarantine (two more failures) lasts twice as long
    assert.equal((await healthOf(bad.id))?.health, 'ok')
    for (const n of [5, 6]) await s.waitForResult(await s.submitTask(pinned(bad, 'flaky', n)), { timeoutMs: 15_000 })
    const q2 = await eventually(async () => { const h = await healthOf(bad.id); return h?.health === 'quarantined' ? h : false }, { timeoutMs: 5000, message: 'quarantined again' })
    assert.equal(q2.quarantines, 2)
    assert.ok((q2.quarantinedUntil ?? 0) - Date.now() > QUARANTINE_MS, 'twice as long the second time')
    await eventually(async () => (await healthOf(bad.id))?.health === 'probation', { timeoutMs: 2 * QUARANTINE_MS + 3000, message: 'probation' })
    // on probation one failure quarantines it again
    await s.waitForResult(await s.submitTask(pinned(bad, 'flaky', 7)), { timeoutMs: 15_000 })
    await eventually(async () => (await healthOf(bad.id))?.health === 'quarantined', { timeoutMs: 5000, message: 're-quarantined from probation' })
    // the healthy nodes were never blamed
    for (const node of c.nodes) if (node !== bad) assert.equal((await healthOf(node.id))?.failures, 0)
  })
})
