// Chaos: leader failure with real node processes on loopback. kill -9 the leader of 5 nodes during a
// 1,000-task run (a new leader within seconds; every task ends exactly once), then stop the new
// leader gracefully (SIGTERM: it hands leadership over, no election timeout to wait for).
// Needs the build: npx tsc -p tsconfig.json
import assert from 'node:assert/strict'
import type { NodeProc } from '../../scripts/lib/proc-cluster.js'
import { sleep } from '../../scripts/lib/proc-cluster.js'
import { auditBatch, batchProgress, chaosCluster, killAll, leaderOf, sleepTasks, submitBatch, timeToNewLeader, waitBatchDone } from '../fixtures/chaos/helpers.js'

describe('chaos: leader failover (5 node processes)', function () {
  this.timeout(150_000)
  let procs: NodeProc[] = []
  let leader: NodeProc

  before(async function () {
    this.timeout(90_000)
    procs = await chaosCluster({ nodes: 5, tag: 'leader', deviceTimeoutMs: 1500 })
    leader = await leaderOf(procs)
  })
  after(async () => { await killAll(procs) })

  it('kill -9 the leader mid-run: new leader within seconds, every task ends exactly once', async () => {
    const M = 1000
    const submitter = procs.find(p => p !== leader)!
    const { id, taskIds } = await submitBatch(submitter, 'chaos-leader', sleepTasks(M, 0.1))
    assert.equal(taskIds.length, M)
    // kill once a third is done, while tasks run everywhere (the leader works too)
    const until = Date.now() + 60_000
    for (;;) {
      const p = await batchProgress(submitter, id)
      if (p.completed >= M / 3) break
      assert.ok(Date.now() < until, `the run did not reach a third: ${JSON.stringify(p)}`)
      await sleep(50)
    }
    const before = await batchProgress(submitter, id)
    const old = leader
    const t0 = Date.now()
    await old.kill9()
    const { ms, leader: nl } = await timeToNewLeader(procs, old.peerId, t0)
    leader = nl
    console.log(`      [figure] kill -9 leader ${old.name} at ${before.completed}/${M} completed (${before.running} running): new leader ${nl.name} agreed by all 4 survivors after ${ms} ms`)
    assert.ok(ms < 5000, `new leader after ${ms} ms`)

    const view = procs.find(p => p.alive && p !== nl)!
    const t1 = Date.now()
    const done = await waitBatchDone(procs, id, M, 90_000)
    assert.deepEqual({ total: done.total, completed: done.completed, failed: done.failed, cancelled: done.cancelled, pending: done.pending, running: done.running },
      { total: M, completed: M, failed: 0, cancelled: 0, pending: 0, running: 0 })
    const audit = await auditBatch(view, id, taskIds)
    console.log(`      [figure] run finished ${Date.now() - t1} ms after the new leader; ${audit.records} records for ${audit.logical} logical tasks (${audit.clones} failover clones), ${audit.attempts} attempts, ${audit.staleResults} stale results`)
    assert.equal(audit.logical, M)
    assert.equal(audit.completed, M)
    // the dead leader's tasks at the kill failed over: their clones exclude it and never ran there
    for (const t of audit.byId.values()) {
      if (t.replaces === undefined) continue
      assert.ok(t.task.requirements.excludeDevices.includes(old.peerId), `clone ${t.id} excludes the dead leader`)
      for (const a of t.attempts) assert.notEqual(a.deviceId, old.peerId, `clone ${t.id} ran on the dead leader`)
    }
    // every survivor converged on the same outcome
    for (const p of procs.filter(x => x.alive)) {
      const pr = await batchProgress(p, id)
      assert.equal(pr.completed, M, `${p.name} sees ${pr.completed} completed`)
    }
  })

  it('SIGTERM the leader: it hands leadership over first, and the cluster keeps working', async () => {
    const old = leader
    const others = procs.filter(p => p.alive && p !== old)
    const t0 = Date.now()
    old.signal('SIGTERM')
    const { ms, leader: nl } = await timeToNewLeader(others, old.peerId, t0)
    console.log(`      [figure] SIGTERM leader ${old.name}: new leader ${nl.name} agreed by the 3 others after ${ms} ms`)
    // an election without a hand-over waits 1-2 s of election timeout first (10 ticks × 100 ms, ×[1,2))
    assert.ok(ms < 1000, `hand-over took ${ms} ms: looks like an election timeout`)
    await old.exited
    leader = nl
    // 3 of 5 voters left: still a quorum; a small batch still runs to completion
    const submitter = others.find(p => p !== nl)!
    const { id, taskIds } = await submitBatch(submitter, 'after-handover', sleepTasks(50, 0.02))
    const done = await waitBatchDone(others, id, 50, 30_000)
    assert.equal(done.completed, 50)
    const audit = await auditBatch(submitter, id, taskIds)
    assert.equal(audit.completed, 50)
  })
})
