// Chaos: a worker killed -9 and restarted before the leader's deviceTimeout (3 node processes,
// deviceTimeout 8 s, so the device is never declared down). Its live assignments were lost with
// the process; the leader notices the new incarnation in its bid and sends them again, so they run
// there at once instead of waiting for the attempt's timeout (60 s here). Then the first node, which
// has no bootstrap address, restarts on a new port and must find the others by itself.
// Needs the build: npx tsc -p tsconfig.json
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { KNOWN_PEERS_FILE } from '../../src/node/host/known-peers.js'
import type { NodeProc } from '../../scripts/lib/proc-cluster.js'
import { api, auditBatch, chaosCluster, killAll, leaderOf, sleepTasks, submitBatch, waitBatchDone } from '../fixtures/chaos/helpers.js'
import { eventually } from '../helpers/eventually.js'

const DEVICE_TIMEOUT_MS = 8000

describe('chaos: a worker restarted within deviceTimeout (3 node processes)', function () {
  this.timeout(120_000)
  let procs: NodeProc[] = []

  before(async function () {
    this.timeout(90_000)
    procs = await chaosCluster({ nodes: 3, tag: 'wrestart', deviceTimeoutMs: DEVICE_TIMEOUT_MS, maxConcurrent: 2 })
  })
  after(async () => { await killAll(procs) })

  it('its lost assignments are sent again and complete long before their timeout', async () => {
    const leader = await leaderOf(procs)
    const victim = procs.find(p => p !== leader)!
    const M = 12
    const { id, taskIds } = await submitBatch(leader, 'restart-worker', sleepTasks(M, 1, { requirements: { timeout_seconds: 60 } }))
    await eventually(async () => {
      const list = await api<any[]>(leader, 'GET', `/v1/tasks?status=running&device=${victim.peerId}&limit=1000`)
      return list.some(t => t.batchId === id)
    }, { timeoutMs: 20_000, intervalMs: 50, message: `no task running on ${victim.name}` })
    const killAt = Date.now()
    await victim.kill9()
    await victim.start()
    const done = await waitBatchDone(procs, id, M, 20_000)
    assert.equal(done.completed, M, JSON.stringify(done))
    const audit = await auditBatch(leader, id, taskIds)
    assert.equal(audit.completed, M)
    const ms = Date.now() - killAt
    assert.ok(ms < DEVICE_TIMEOUT_MS + 10_000, `took ${ms} ms`)
    console.log(`      [figure] worker ${victim.name} kill -9 + restart: all ${M} tasks completed ${ms} ms after the kill; ${audit.completedOn.get(victim.peerId) ?? 0} on the restarted worker`)
  })

  // node1 was started without --bootstrap and listens on a new port after a restart: the others
  // redial its old address in vain, so it must dial them, from the members it remembers (peers.json).
  it('the first node (no --bootstrap), restarted on a new port, finds the cluster again by itself', async () => {
    const first = procs[0]!
    const known = JSON.parse(readFileSync(join(first.opts.dataDir, KNOWN_PEERS_FILE), 'utf8')).peers.map((p: any) => p.id)
    assert.deepEqual(new Set(known), new Set(procs.slice(1).map(p => p.peerId)), 'node1 remembers both other members')
    const oldAddr = first.info!.multiaddrs[0]
    await first.kill9()
    await first.start()
    assert.notEqual(first.info!.multiaddrs[0], oldAddr, 'the test wants a new port')
    const t0 = Date.now()
    const other = procs[1]!
    const { id } = await api<{ id: string }>(other, 'POST', '/v1/tasks', { task_type: 'echo', payload: { after: 'restart' } })
    // node1 serves from its own copy of the log: it shows the task only once it is replicated again
    await eventually(async () => {
      const r = await first.api<any>('GET', `/v1/tasks/${id}`)
      return r.status === 200 && r.body.status === 'completed'
    }, { timeoutMs: 15_000, intervalMs: 100, message: 'node1 never caught up with the cluster after its restart' })
    console.log(`      [figure] node1 restarted on a new port: caught up ${Date.now() - t0} ms after its API was up`)
  })
})
