// Device policy on real nodes: one node's battery fixture switched to "Discharging" → within 3 s its
// bid says cordoned and it gets no new work; its running work is handed off (clone elsewhere, then
// the original cancelled) before the drain deadline, and nothing is marked failed.
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startLocalCluster, waitForBids, type LocalCluster } from '../helpers/local-cluster.js'
import { eventually } from '../helpers/eventually.js'

const LAPTOP = fileURLToPath(new URL('../fixtures/devices/laptop-mains-not-charging', import.meta.url))

describe('device policy: drain and hand-off on real nodes', function () {
  this.timeout(60_000)
  let c: LocalCluster
  let dir: string
  const roots: string[] = []

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rc-dev-'))
    for (let i = 0; i < 3; i++) { roots.push(join(dir, `root${i}`)); cpSync(LAPTOP, roots[i]!, { recursive: true }) }
    c = await startLocalCluster(3, i => ({
      signalRoot: roots[i],
      maxConcurrentTasks: 4,
      // a quick drain for the test: 2 s on battery → draining, 10 s deadline
      devicePolicy: { drainOnBatteryAfterMs: 2000, drainDeadlineOnBatteryMs: 10_000 }
    }))
    await waitForBids(c.nodes)
  })
  after(async () => {
    await c?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('stops placing work on the discharging node within 3 s and hands its running tasks off in time', async () => {
    const [a, b, cc] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0]]
    const s = b.scheduler
    // put two long tasks on b: drain the others while submitting, then let them back in
    await a.drain({ deadlineMs: 60_000 })
    await cc.drain({ deadlineMs: 60_000 })
    await eventually(async () => (await b.nodes()).filter(n => n.device?.state === 'draining').length === 2, { timeoutMs: 5000, message: 'a and c draining' })
    const long = await Promise.all([0, 1].map(() => s.submitTask({ task_type: 'sleep', payload: { duration: 30 } })))
    await eventually(async () => {
      for (const id of long) if ((await s.getTaskStatus(id))?.status !== 'running') return false
      return true
    }, { timeoutMs: 10_000, message: 'long tasks running' })
    for (const id of long) assert.equal((await s.getTaskStatus(id))?.deviceId, b.id)
    await a.undrain()
    await cc.undrain()
    await eventually(async () => (await b.nodes()).every(n => n.device?.state === 'active'), { timeoutMs: 5000, message: 'all active' })

    // unplug b
    const t0 = Date.now()
    writeFileSync(join(roots[1]!, 'sys/class/power_supply/BAT0/status'), 'Discharging\n')
    writeFileSync(join(roots[1]!, 'sys/class/power_supply/AC/online'), '0\n')
    const seen = await eventually(async () => {
      const me = (await c.leader().nodes()).find(n => n.id === b.id)
      return me?.device?.state !== undefined && me.device.state !== 'active' ? me : false
    }, { timeoutMs: 5000, message: 'b cordoned' })
    const cordonedAfterMs = Date.now() - t0
    assert.ok(cordonedAfterMs <= 3000, `b cordoned after ${cordonedAfterMs} ms`)
    assert.match(seen.device?.reason ?? '', /on battery 60 %/)

    // new work goes elsewhere
    const short = await Promise.all([0, 1, 2, 3].map(() => s.submitTask({ task_type: 'sleep', payload: { duration: 0.2 } })))
    for (const id of short) {
      const r = await s.waitForResult(id, { timeoutMs: 15_000 })
      assert.equal(r.status, 'completed')
      assert.notEqual(r.deviceId, b.id, 'no new work on the unplugged node')
    }

    // running work handed off before the 10 s deadline (draining starts 2 s after the cordon)
    await eventually(async () => {
      for (const id of long) {
        const r = await s.getTaskStatus(id)
        if (r?.replacedBy === undefined || r.status !== 'cancelled') return false
        const clone = await s.getTaskStatus(r.replacedBy)
        if (clone?.status !== 'running' || clone.deviceId === b.id) return false
      }
      return true
    }, { timeoutMs: 15_000, message: 'hand-off' })
    const handedOffAfterMs = Date.now() - t0
    assert.ok(handedOffAfterMs < 3000 + 2000 + 10_000, `handed off after ${handedOffAfterMs} ms`)
    for (const id of long) {
      const r = await s.getTaskStatus(id)
      assert.equal(r?.error?.type, 'cancelled')
      assert.match(r?.error?.message ?? '', /handed off to .*draining \(on battery/)
      const clone = await s.getTaskStatus(r!.replacedBy!)
      assert.ok(clone?.task.requirements.excludeDevices.includes(b.id))
      assert.equal(clone?.task.retryCount, 0, 'a hand-off is not a retry')
    }
    await eventually(async () => (await s.listTasks({ deviceId: b.id, status: 'running' })).length === 0, { timeoutMs: 5000, message: 'nothing left on b' })
    const failed = await s.listTasks({ status: 'failed' })
    assert.deepEqual(failed.map(t => t.id), [], 'nothing failed')
    const bid = (await c.leader().nodes()).find(n => n.id === b.id)
    assert.equal(bid?.device?.state, 'draining')
    for (const id of long) { const r = await s.getTaskStatus(id); await s.cancelTask(r!.replacedBy!).catch(() => {}) }
  })
})
