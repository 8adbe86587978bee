// Chaos: the whole cluster dies at once (kill -9 every node mid-run) and restarts on the same data
// dirs. Nothing acknowledged is lost: every submitted task is still there, every outcome committed
// before the crash is unchanged, and the run completes. Needs the build: npx tsc -p tsconfig.json
import assert from 'node:assert/strict'
import type { NodeProc } from '../../scripts/lib/proc-cluster.js'
import { sleep } from '../../scripts/lib/proc-cluster.js'
import { api, auditBatch, batchProgress, chaosCluster, killAll, leaderOf, sleepTasks, submitBatch, waitBatchDone } from '../fixtures/chaos/helpers.js'

describe('chaos: kill every node and restart (3 node processes)', function () {
  this.timeout(150_000)
  let procs: NodeProc[] = []

  before(async function () {
    this.timeout(90_000)
    procs = await chaosCluster({ nodes: 3, tag: 'restart', deviceTimeoutMs: 1500 })
    await leaderOf(procs)
  })
  after(async () => { await killAll(procs) })

  it('kill -9 all nodes mid-run, restart them on their data dirs: no committed task lost, the run completes', async () => {
    const M = 300
    const submitter = procs[1]!
    const a = await submitBatch(submitter, 'before-crash', sleepTasks(M, 0.1))
    const until = Date.now() + 60_000
    for (;;) {
      const p = await batchProgress(submitter, a.id)
      if (p.completed >= M / 3) break
      assert.ok(Date.now() < until, `run did not reach a third: ${JSON.stringify(p)}`)
      await sleep(50)
    }
    // acknowledged right before the crash: a second batch and single tasks
    const b = await submitBatch(procs[2]!, 'just-before-crash', sleepTasks(20, 0.05))
    const singles: string[] = []
    for (let i = 0; i < 5; i++) singles.push((await api<{ id: string }>(procs[0]!, 'POST', '/v1/tasks', { task_type: 'echo', payload: { i } })).id)
    // outcomes committed before the crash, as one node saw them
    const seen = await api<any[]>(submitter, 'GET', '/v1/tasks?status=completed&limit=10000')
    const completedBefore = new Map(seen.map(t => [t.id, JSON.stringify(t.result)]))
    const progressAtKill = await batchProgress(submitter, a.id)
    await Promise.all(procs.map(async p => { await p.kill9() }))
    const t0 = Date.now()

    // restart: the first node on its data dir, the others bootstrapped to its new address
    await procs[0]!.start()
    await Promise.all(procs.slice(1).map(async p => { p.opts.bootstrap = procs[0]!.info!.multiaddrs; await p.start() }))
    const leader = await leaderOf(procs, 30_000)
    console.log(`      [figure] killed all 3 nodes at ${progressAtKill.completed}/${M} completed; restarted, leader ${leader.name} after ${Date.now() - t0} ms`)

    const doneA = await waitBatchDone(procs, a.id, M, 60_000)
    assert.equal(doneA.completed, M, JSON.stringify(doneA))
    const doneB = await waitBatchDone(procs, b.id, 20, 30_000)
    assert.equal(doneB.completed, 20, JSON.stringify(doneB))
    const auditA = await auditBatch(leader, a.id, a.taskIds)
    console.log(`      [figure] both batches complete ${Date.now() - t0} ms after the restart began; ${auditA.staleResults} stale results (late reports of superseded attempts)`)
    assert.equal(auditA.completed, M)
    const auditB = await auditBatch(leader, b.id, b.taskIds)
    assert.equal(auditB.completed, 20)
    for (const id of singles) {
      const t = await api(leader, 'GET', `/v1/tasks/${id}/wait?timeoutMs=20000`)
      assert.equal(t.status, 'completed', `acknowledged task ${id} ended ${t.status}: ${JSON.stringify(t.attempts)}`)
    }
    // every outcome committed before the crash survived, unchanged
    let kept = 0
    for (const [id, result] of completedBefore) {
      const t = await api(leader, 'GET', `/v1/tasks/${id}`)
      assert.equal(t.status, 'completed', `${id} was completed before the crash`)
      assert.equal(JSON.stringify(t.result), result)
      kept++
    }
    assert.ok(kept >= M / 3)
    // all nodes agree
    for (const p of procs) assert.equal((await batchProgress(p, a.id)).completed, M, `${p.name}`)
  })
})
