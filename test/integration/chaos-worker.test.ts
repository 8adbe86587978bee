// Chaos: worker failure with real node processes on loopback (5 nodes, deviceTimeout 1.5 s).
// kill -9 a worker while it runs tasks: they rerun elsewhere, never on the dead device. SIGSTOP a
// worker past deviceTimeout, then SIGCONT: its late results are recorded as stale, the outcome is
// the clone's, and it rejoins and gets new work. Needs the build: npx tsc -p tsconfig.json
import assert from 'node:assert/strict'
import type { NodeProc } from '../../scripts/lib/proc-cluster.js'
import { api, auditBatch, chaosCluster, killAll, leaderOf, sleepTasks, submitBatch, waitBatchDone } from '../fixtures/chaos/helpers.js'
import { eventually } from '../helpers/eventually.js'

const DEVICE_TIMEOUT_MS = 1500

describe('chaos: worker failure (5 node processes)', function () {
  this.timeout(120_000)
  let procs: NodeProc[] = []
  let leader: NodeProc

  before(async function () {
    this.timeout(90_000)
    procs = await chaosCluster({ nodes: 5, tag: 'worker', deviceTimeoutMs: DEVICE_TIMEOUT_MS })
    leader = await leaderOf(procs)
  })
  after(async () => { await killAll(procs) })

  /** tasks of a batch running (status running) on a device, as the leader sees them */
  async function runningOn (deviceId: string, batchId: string): Promise<any[]> {
    const list = await api<any[]>(leader, 'GET', `/v1/tasks?status=running&device=${deviceId}&limit=10000`)
    return list.filter(t => t.batchId === batchId)
  }

  it('kill -9 a worker while it runs tasks: they rerun elsewhere, never on the dead device', async () => {
    const victim = procs.find(p => p !== leader)!
    const M = 40
    const { id, taskIds } = await submitBatch(leader, 'kill-worker', sleepTasks(M, 2))
    const onVictim = await eventually(async () => {
      const r = await runningOn(victim.peerId, id)
      return r.length > 0 ? r : false
    }, { timeoutMs: 20_000, intervalMs: 50, message: `no task running on ${victim.name}` })
    const killAt = Date.now()
    await victim.kill9()
    const done = await waitBatchDone(procs, id, M, 60_000)
    assert.equal(done.completed, M, JSON.stringify(done))
    const audit = await auditBatch(leader, id, taskIds)
    assert.equal(audit.completed, M)
    // every task that was running on the victim failed over: failed/device_failure → a clone that
    // excludes the victim, ran elsewhere, and carries the outcome
    for (const t of onVictim) {
      const orig = audit.byId.get(t.id)
      assert.equal(orig.status, 'failed', `${t.id} on the dead worker ended ${orig.status}`)
      assert.equal(orig.error?.type, 'device_failure')
      const clone = audit.byId.get(orig.replacedBy)
      assert.ok(clone.task.requirements.excludeDevices.includes(victim.peerId), `clone ${clone.id} excludes the dead device`)
      assert.equal(clone.status, 'completed')
      assert.notEqual(clone.deviceId, victim.peerId)
    }
    // and nothing was placed on the dead device after the kill
    let clones = 0
    for (const t of audit.byId.values()) {
      if (t.replaces !== undefined) clones++
      for (const a of t.attempts) {
        if (a.deviceId === victim.peerId) assert.ok(a.assignedAt < killAt, `${t.id} attempt ${a.attempt} assigned to the dead device after the kill`)
      }
    }
    assert.ok(clones >= onVictim.length, `${clones} clones for ${onVictim.length} tasks on the dead device`)
    console.log(`      [figure] kill -9 worker ${victim.name} with ${onVictim.length} tasks running: ${clones} failover clones, all ${M} completed ${Date.now() - killAt} ms after the kill`)
  })

  it('SIGSTOP a worker past deviceTimeout, then SIGCONT: late results are stale; it gets new work', async () => {
    const victim = procs.find(p => p.alive && p !== leader)!
    const M = 24
    const { id, taskIds } = await submitBatch(leader, 'stop-worker', sleepTasks(M, 3))
    const onVictim = await eventually(async () => {
      const r = await runningOn(victim.peerId, id)
      return r.length > 0 ? r : false
    }, { timeoutMs: 20_000, intervalMs: 50, message: `no task running on ${victim.name}` })
    const stopAt = Date.now()
    victim.signal('SIGSTOP')
    try {
      // the leader declares it down after deviceTimeout; its tasks fail over and the clones finish
      const done = await waitBatchDone(procs.filter(p => p !== victim), id, M, 60_000)
      assert.equal(done.completed, M, JSON.stringify(done))
      console.log(`      [figure] SIGSTOP worker ${victim.name} with ${onVictim.length} tasks running; batch done elsewhere ${Date.now() - stopAt} ms later`)
    } finally {
      victim.signal('SIGCONT')
    }
    // once resumed, the victim finishes its old attempts and reports them: recorded as stale
    await eventually(async () => {
      for (const t of onVictim) {
        const rec = await api(leader, 'GET', `/v1/tasks/${t.id}`)
        if ((rec.staleResults ?? 0) < 1) return false
      }
      return true
    }, { timeoutMs: 20_000, intervalMs: 200, message: 'late results of the stopped worker recorded as stale' })
    const audit = await auditBatch(leader, id, taskIds)
    assert.equal(audit.completed, M)
    for (const t of onVictim) {
      const orig = audit.byId.get(t.id)
      assert.equal(orig.status, 'failed')
      assert.equal(orig.error?.type, 'device_failure')
      assert.equal(orig.result, undefined, 'the late result did not change the original')
      const att = orig.attempts[orig.attempts.length - 1]
      assert.equal(att.deviceId, victim.peerId)
      assert.equal(att.reported, true, 'the late report is recorded on the attempt')
      const clone = audit.byId.get(orig.replacedBy)
      assert.equal(clone.status, 'completed', 'the outcome came from the clone')
      assert.notEqual(clone.deviceId, victim.peerId)
    }
    // it rejoins: new work lands on it and completes there
    const later = await eventually(async () => {
      const b = await submitBatch(leader, 'after-resume', sleepTasks(40, 0.05))
      await waitBatchDone(procs, b.id, 40, 30_000)
      const a = await auditBatch(leader, b.id, b.taskIds)
      return (a.completedOn.get(victim.peerId) ?? 0) > 0 ? a : false
    }, { timeoutMs: 40_000, intervalMs: 500, message: `${victim.name} never got new work after SIGCONT` })
    console.log(`      [figure] after SIGCONT ${victim.name} ran ${later.completedOn.get(victim.peerId)} of 40 new tasks; ${onVictim.length} late results recorded stale`)
  })
})
