// Issue 14 on 3 real in-process nodes (libp2p on 127.0.0.1, sqlite files): finished tasks are evicted
// after a 2 s retention identically on every node, also across a leader change and a restart; an
// evicted id answers HTTP 410; queue_full at the limit loses nothing; a 10/s rate limit holds across
// 3 workers. The issue asks for the rate over 30 s; this measures 10 s to keep CI short (the bound
// is the same: 10 % over). A cap on retained records evicts the oldest finished tasks early.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startLocalCluster, waitForBids, waitForAgreedLeader, addrsOf, base, type LocalCluster } from '../helpers/local-cluster.js'
import { eventually, sleep } from '../helpers/eventually.js'
import { startNode } from '../../src/node/node.js'
import type { ClusterNode } from '../../src/node/api-types.js'
import type { ClusterState } from '../../src/sched/state-machine.js'
import type { Command } from '../../src/sched/commands.js'

const RETENTION_MS = 2000

/** the node's replicated state, for comparing replicas (not part of the public API) */
function stateOf (n: ClusterNode): ClusterState {
  return (n as unknown as { core: { state: ClusterState } }).core.state
}
function proposeOn (n: ClusterNode, cmd: Command): Promise<unknown> {
  return (n as unknown as { core: { proposeAndWait: (c: Command) => Promise<unknown> } }).core.proposeAndWait(cmd)
}
async function isGone (n: ClusterNode, id: string): Promise<boolean> {
  try { await n.scheduler.getTaskStatus(id); return false } catch (err) { return (err as { type?: string }).type === 'gone' }
}
function leaderOf (nodes: ClusterNode[]): ClusterNode {
  const l = nodes.find(x => x.raftStatus().role === 'leader')
  if (l === undefined) throw new Error('no leader')
  return l
}

describe('retention, queue size and rate limits (3 real nodes)', function () {
  this.timeout(120_000)
  let c: LocalCluster

  before(async () => {
    c = await startLocalCluster(3, i => ({ maxConcurrentTasks: 4, ...(i === 0 ? { api: { host: '127.0.0.1', port: 0 } } : {}) }), { retentionMs: RETENTION_MS })
    await waitForBids(c.nodes)
  })
  after(async () => { await c?.stop() })

  it('evicts finished tasks and batches identically on every node; an evicted id answers 410 over HTTP', async () => {
    const s = c.nodes[1]!.scheduler
    const singles = await Promise.all(Array.from({ length: 20 }, async (_, i) => await s.submitTask({ task_type: 'echo', payload: { i } })))
    const batch = await s.submitBatch({ name: 'short-lived', tasks: Array.from({ length: 10 }, (_, i) => ({ task_type: 'echo', payload: { b: i } })) })
    for (const id of [...singles, ...batch.taskIds]) assert.equal((await s.waitForResult(id, { timeoutMs: 20_000 })).status, 'completed')
    await eventually(async () => {
      for (const n of c.nodes) for (const id of [...singles, ...batch.taskIds]) if (!await isGone(n, id)) return false
      return true
    }, { timeoutMs: 15_000, message: 'evicted on every node' })
    await assert.rejects(c.nodes[2]!.scheduler.getBatchProgress(batch.id), (e: { type?: string }) => e.type === 'gone')
    // same records on every node once all have applied the same index
    await eventually(() => new Set(c.nodes.map(n => `${stateOf(n).size}/${stateOf(n).evictedTotal}`)).size === 1, { timeoutMs: 5000, message: 'replicas agree' })
    // HTTP: 410 with a message that says what happened
    const n0 = c.nodes[0]!
    const token = readFileSync(join(n0.dataDir, 'api-token'), 'utf8').trim()
    const res = await fetch(`${n0.apiUrl()!}/v1/tasks/${singles[0]!}`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(res.status, 410)
    const body = await res.json() as { error: { type: string, message: string } }
    assert.equal(body.error.type, 'gone')
    assert.match(body.error.message, /evicted after the cluster's result retention/)
    const unknown = await fetch(`${n0.apiUrl()!}/v1/tasks/01ZZZZZZZZZZZZZZZZZZZZZZZZ`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(unknown.status, 404, 'an id that never existed (time in the future) is 404')
  })

  it('eviction survives a leader change and a restart (the restarted node catches up to the same state)', async () => {
    const old = leaderOf(c.nodes)
    const others = c.nodes.filter(n => n !== old)
    const s = others[0]!.scheduler
    const ids = await Promise.all(Array.from({ length: 10 }, async (_, i) => await s.submitTask({ task_type: 'echo', payload: { lc: i } })))
    for (const id of ids) await s.waitForResult(id, { timeoutMs: 20_000 })
    const oldDir = old.dataDir
    const oldName = old.name
    await old.stop()
    c.nodes.splice(c.nodes.indexOf(old), 1)
    await waitForAgreedLeader(others, 20_000)
    await eventually(async () => { for (const n of others) for (const id of ids) if (!await isGone(n, id)) return false; return true },
      { timeoutMs: 20_000, message: 'evicted by the new leader' })
    const back = await startNode({ ...base, name: oldName, dataDir: oldDir, bootstrap: addrsOf(others[0]!), retentionMs: RETENTION_MS, maxConcurrentTasks: 4 })
    c.nodes.push(back)
    await eventually(async () => { for (const id of ids) if (!await isGone(back, id)) return false; return true }, { timeoutMs: 20_000, message: 'restarted node evicted them too' })
    await eventually(() => new Set(c.nodes.map(n => `${stateOf(n).size}/${stateOf(n).evictedTotal}/${stateOf(n).appliedIndex}`)).size === 1,
      { timeoutMs: 10_000, message: 'replicas agree after restart' })
  })

  it('a cap on retained records (settings maxRetainedTasks, through a follower) evicts the oldest finished tasks before their retention, on every node', async () => {
    const follower = c.nodes.find(n => n.raftStatus().role !== 'leader')!
    const set = await follower.scheduler.updateSettings({ retentionMs: 3_600_000, maxRetainedTasks: 3 })
    assert.equal(set.maxRetainedTasks, 3)
    try {
      const s = c.nodes[1]!.scheduler
      const ids: string[] = []
      // one after another, so they end in this order
      for (let i = 0; i < 6; i++) {
        const id = await s.submitTask({ task_type: 'echo', payload: { cap: i } })
        assert.equal((await s.waitForResult(id, { timeoutMs: 20_000 })).status, 'completed')
        ids.push(id)
      }
      await eventually(async () => {
        for (const n of c.nodes) {
          for (const id of ids.slice(0, 3)) if (!await isGone(n, id)) return false
          for (const id of ids.slice(3)) if ((await n.scheduler.getTaskStatus(id))?.status !== 'completed') return false
        }
        return true
      }, { timeoutMs: 15_000, message: 'the 3 oldest evicted (an hour before their retention), the 3 newest kept, on every node' })
      await eventually(() => new Set(c.nodes.map(n => `${stateOf(n).size}/${stateOf(n).evictedTotal}`)).size === 1, { timeoutMs: 5000, message: 'replicas agree' })
    } finally {
      await follower.scheduler.updateSettings({ retentionMs: RETENTION_MS, maxRetainedTasks: null })
    }
  })

  it('queue_full at the limit: the submit is refused whole, nothing already queued is lost', async () => {
    const leader = leaderOf(c.nodes)
    await proposeOn(leader, { type: 'settings', at: Date.now(), by: 'local-admin', settings: { maxQueueSize: 5 } })
    const s = c.nodes[0]!.scheduler
    let queued: string[] = []
    try {
      // a type no device runs stays in the queue
      queued = await Promise.all(Array.from({ length: 5 }, async (_, i) => await s.submitTask({ task_type: 'nobody_runs_this', payload: { i } })))
      await assert.rejects(s.submitTask({ task_type: 'nobody_runs_this', payload: { i: 5 } }), (e: { type?: string, message?: string }) =>
        e.type === 'queue_full' && /the limit is 5/.test(String(e.message)))
      // acknowledged = on a majority: the third node may apply them a moment later (CI, loaded)
      await eventually(async () => {
        for (const n of c.nodes) for (const id of queued) if ((await n.scheduler.getTaskStatus(id))?.status !== 'pending') return false
        return true
      }, { timeoutMs: 5000, message: 'the 5 queued tasks pending on every node' })
    } finally {
      // also after a failure: the next test must not start with a full queue
      for (const id of queued) await s.cancelTask(id).catch(() => {})
      await proposeOn(leader, { type: 'settings', at: Date.now(), by: 'local-admin', settings: { maxQueueSize: null } })
    }
  })

  it('a 10/s rate limit for one task type holds within 10 % over 10 s across 3 workers, with a pending reason', async () => {
    await proposeOn(leaderOf(c.nodes), { type: 'settings', at: Date.now(), by: 'local-admin', settings: { rateLimits: [{ scope: 'type', key: 'sleep', count: 10, perSeconds: 1 }] } })
    await sleep(300)
    const s = c.nodes[0]!.scheduler
    // tasks of 0.6 s at 10/s keep ~6 running, more than one device's 4 slots: the limit is seen
    // across workers whatever their scores (instant tasks all went to the best-scoring device when
    // its bid stayed the best: a flake under CI's load)
    const { taskIds } = await s.submitBatch({ name: 'rate', tasks: Array.from({ length: 150 }, () => ({ task_type: 'sleep', payload: { duration: 0.6 } })) })
    const t0 = Date.now()
    await sleep(Math.max(0, t0 + 11_500 - Date.now()))
    const recs = await Promise.all(taskIds.map(async id => await c.nodes[0]!.scheduler.getTaskStatus(id)))
    const assigned = recs.map(r => r?.attempts[0]?.assignedAt).filter((t): t is number => t !== undefined).sort((a, b) => a - b)
    const first = assigned[0]!
    const inWindow = assigned.filter(t => t >= first && t < first + 10_000).length
    const devices = new Set(recs.map(r => r?.deviceId).filter(d => d !== undefined))
    assert.ok(inWindow >= 90 && inWindow <= 110, `assignments in 10 s: ${inWindow}`)
    assert.ok(devices.size >= 2, `spread over workers: ${devices.size}`)
    const waiting = recs.find(r => r?.status === 'pending')
    assert.ok(waiting !== undefined, 'some tasks still wait for tokens')
    assert.equal(waiting.pendingReason, 'rate limited: 10/s for type sleep')
    await proposeOn(leaderOf(c.nodes), { type: 'settings', at: Date.now(), by: 'local-admin', settings: { rateLimits: null } })
  })
})
