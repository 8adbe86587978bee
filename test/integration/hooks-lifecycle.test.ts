// Lifecycle hooks (the seed's TaskLifecycleHandler) on real in-process nodes: registered on every
// node, they see each task's events in order — submit, schedule, start, [progress], complete | error
// — for success, failure with retry, final failure and cancellation; every node sees the same
// sequence; and a leader change duplicates no onComplete.
import assert from 'node:assert/strict'
import { startLocalCluster, waitForAgreedLeader, waitForBids, type LocalCluster } from '../helpers/local-cluster.js'
import { eventually } from '../helpers/eventually.js'
import type { ClusterNode, TaskLifecycleHandler } from '../../src/node/api-types.js'
import { WF_HANDLERS } from '../fixtures/workflow/ml-template.js'

type Ev = string // 'submit' | 'schedule' | 'start' | 'progress' | 'complete' | 'error:<type>'

class Recorder {
  readonly byTask = new Map<string, Ev[]>()
  readonly off: () => void
  constructor (readonly node: ClusterNode) {
    const push = (id: string, e: Ev): void => {
      let l = this.byTask.get(id)
      if (l === undefined) { l = []; this.byTask.set(id, l) }
      l.push(e)
    }
    const h: TaskLifecycleHandler = {
      onSubmit: t => { push(t.id, 'submit') },
      onSchedule: (t, dev) => { assert.equal(typeof dev, 'string'); push(t.id, 'schedule') },
      onStart: t => { push(t.id, 'start') },
      onProgress: (t, p) => { assert.ok(p >= 0 && p <= 100); push(t.id, 'progress') },
      onComplete: t => { push(t.id, 'complete') },
      onError: (t, err) => { push(t.id, `error:${err.type}`) }
    }
    this.off = node.scheduler.addLifecycleHandler(h)
  }

  events (id: string, withProgress = false): Ev[] {
    const l = this.byTask.get(id) ?? []
    return withProgress ? l.slice() : l.filter(e => e !== 'progress')
  }
}

describe('lifecycle hooks (3 real nodes)', function () {
  this.timeout(120_000)
  let c: LocalCluster
  let rec: Recorder[]

  before(async () => {
    c = await startLocalCluster(3, () => ({ handlers: [WF_HANDLERS], maxConcurrentTasks: 4, deviceTimeoutMs: 2000 }))
    await waitForBids(c.nodes)
    rec = c.nodes.map(n => new Recorder(n))
  })
  after(async () => { for (const r of rec ?? []) r.off(); await c?.stop() })

  /** waits until every running node has seen `last` as the task's last event */
  async function settled (id: string, last: RegExp, nodes = c.nodes): Promise<void> {
    await eventually(() => rec.filter(r => nodes.includes(r.node)).every(r => last.test(r.events(id).at(-1) ?? '')), { timeoutMs: 30_000, message: `events of ${id}` })
  }

  it('success: submit, schedule, start, complete — also for a fast task that never reported started', async () => {
    const s = c.followers()[0]!.scheduler
    const fast = await s.submitTask({ task_type: 'outcome', payload: { ms: 0 } })
    const slow = await s.submitTask({ task_type: 'outcome', payload: { ms: 700 } })
    await settled(fast, /^complete$/)
    await settled(slow, /^complete$/)
    for (const r of rec) {
      assert.deepEqual(r.events(fast), ['submit', 'schedule', 'start', 'complete'], r.node.name)
      assert.deepEqual(r.events(slow), ['submit', 'schedule', 'start', 'complete'], r.node.name)
    }
    // progress: seen where it arrives (the leader, and the worker that ran it), only between start and complete
    const worker = (await s.getTaskStatus(slow))!.deviceId
    const leader = c.leader()
    for (const r of rec.filter(x => x.node === leader || x.node.id === worker)) {
      const all = r.events(slow, true)
      assert.ok(all.includes('progress'), `${r.node.name} saw progress: ${all.join(',')}`)
      const first = all.indexOf('progress'); const last = all.lastIndexOf('progress')
      assert.ok(first > all.indexOf('start') && last < all.indexOf('complete'), all.join(','))
    }
  })

  it('failure with retry: error (retryable), then schedule and start of attempt 2, then complete', async () => {
    const s = c.followers()[1]!.scheduler
    const id = await s.submitTask({ task_type: 'outcome', payload: { ms: 0, failAttempts: 1 } })
    await settled(id, /^complete$/)
    for (const r of rec) {
      assert.deepEqual(r.events(id), ['submit', 'schedule', 'start', 'error:network_error', 'schedule', 'start', 'complete'], r.node.name)
    }
    const t = (await s.getTaskStatus(id))!
    assert.equal(t.attempts.length, 2)
  })

  it('final failure: one error after start, no complete', async () => {
    const s = c.nodes[0]!.scheduler
    const id = await s.submitTask({ task_type: 'outcome', payload: { fail: true } })
    await settled(id, /^error:/)
    for (const r of rec) assert.deepEqual(r.events(id), ['submit', 'schedule', 'start', 'error:execution_error'], r.node.name)
  })

  it('cancellation: of a running task (after start) and of a blocked workflow step (before schedule)', async () => {
    const s = c.followers()[0]!.scheduler
    const { taskIds } = await s.submitWorkflow({ name: 'to cancel', steps: [
      { name: 'long', task: { task_type: 'outcome', payload: { ms: 10_000 } }, dependsOn: [] },
      { name: 'after', task: { task_type: 'outcome', payload: { ms: 0 } }, dependsOn: ['long'] }
    ] })
    const [running, blocked] = taskIds as [string, string]
    await eventually(async () => (await s.getTaskStatus(running))?.status === 'running', { timeoutMs: 10_000, message: 'running' })
    await s.cancelTask(blocked)
    await s.cancelTask(running)
    await settled(running, /^error:cancelled$/)
    await settled(blocked, /^error:cancelled$/)
    for (const r of rec) {
      assert.deepEqual(r.events(running), ['submit', 'schedule', 'start', 'error:cancelled'], r.node.name)
      assert.deepEqual(r.events(blocked), ['submit', 'error:cancelled'], r.node.name)
    }
  })

  it('a leader change mid-batch duplicates no onComplete; every node saw the same sequence', async () => {
    const leader = c.leader()
    const survivors = c.nodes.filter(n => n !== leader)
    const s = survivors[0]!.scheduler
    const { id: batchId, taskIds } = await s.submitBatch({ name: 'hooks', tasks: Array.from({ length: 60 }, () => ({ task_type: 'outcome', payload: { ms: 150 } })) })
    await eventually(async () => (await s.getBatchProgress(batchId)).completed >= 10, { timeoutMs: 20_000, message: 'some done' })
    await leader.stop()
    await waitForAgreedLeader(survivors, 20_000)
    await eventually(async () => {
      const p = await s.getBatchProgress(batchId)
      return p.completed === 60
    }, { timeoutMs: 60_000, message: 'batch done after the leader change' })
    const live = rec.filter(r => r.node !== leader)
    // every task of the batch, followed through failover clones, completed exactly once
    const chainOf = async (id: string): Promise<string[]> => {
      const out = [id]
      for (let t = await s.getTaskStatus(id); t?.replacedBy !== undefined; t = await s.getTaskStatus(t.replacedBy)) out.push(t.replacedBy)
      return out
    }
    await eventually(async () => {
      for (const id of taskIds) {
        const ids = await chainOf(id)
        for (const r of live) {
          const completes = ids.flatMap(x => r.events(x)).filter(e => e === 'complete').length
          if (completes !== 1) return false
        }
      }
      return true
    }, { timeoutMs: 10_000, message: 'exactly one onComplete per task on every survivor' })
    for (const id of taskIds) {
      for (const x of await chainOf(id)) {
        const seqs = live.map(r => r.events(x))
        assert.deepEqual(seqs[0], seqs[1], `survivors saw the same events for ${x}`)
        const ev = seqs[0]!
        assert.equal(ev[0], 'submit', `${x}: ${ev.join(',')}`)
        assert.ok(ev.filter(e => e === 'complete').length <= 1)
        if (ev.includes('complete')) {
          assert.equal(ev.at(-1), 'complete', `${x}: ${ev.join(',')}`)
          assert.equal(ev.at(-2), 'start', `${x}: start right before complete: ${ev.join(',')}`)
        }
        // every start belongs to a schedule before it
        let scheduled = 0; let started = 0
        for (const e of ev) { if (e === 'schedule') scheduled++; if (e === 'start') { started++; assert.ok(started <= scheduled, `${x}: ${ev.join(',')}`) } }
      }
    }
  })
})
