// Priority order holds end to end on a real node (issue 11, part 2): with one slot busy on a long
// task, LOW work submitted first must not be prefetched into the worker ahead of URGENT work
// submitted later. Both a fresh node (nothing known about the task types) and a warm one.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode } from '../../src/node/node.js'
import type { ClusterNode } from '../../src/node/api-types.js'
import { base, waitForAgreedLeader } from '../helpers/local-cluster.js'

describe('priority end to end: one slot, a long task, LOW then URGENT', function () {
  this.timeout(90_000)
  let dir: string
  let node: ClusterNode

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rc-prio-'))
    node = await startNode({ ...base, bootstrapExpect: 1, maxConcurrentTasks: 1, name: 'p1', dataDir: join(dir, 'p1') })
    await waitForAgreedLeader([node], 30_000)
  })
  after(async () => {
    await node?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  async function scenario (label: string): Promise<void> {
    const s = node.scheduler
    const sleepId = await s.submitTask({ task_type: 'sleep', payload: { duration: 1.5 }, priority: 'normal' })
    const lows: string[] = []
    for (let i = 0; i < 10; i++) lows.push(await s.submitTask({ task_type: 'echo', payload: { low: i, label }, priority: 4 }))
    const urgent = await s.submitTask({ task_type: 'echo', payload: { urgent: true, label }, priority: 1 })
    const done = await Promise.all([sleepId, urgent, ...lows].map(async id => await s.waitForResult(id, { timeoutMs: 30_000 })))
    for (const r of done) assert.equal(r.status, 'completed', `${r.id} ${r.status}`)
    const u = done[1]!
    const firstLow = Math.min(...done.slice(2).map(r => r.startedAt ?? Infinity))
    assert.ok(u.startedAt !== undefined && u.startedAt <= firstLow,
      `${label}: URGENT started at ${u.startedAt}, a LOW at ${firstLow} (${u.startedAt! - firstLow} ms earlier)`)
  }

  it('on a fresh node (no execution times known yet)', async () => { await scenario('fresh') })

  it('on a warm node (echo known to be short, sleep known to be long)', async () => {
    await scenario('warm')
  })
})
