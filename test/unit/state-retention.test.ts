// Retention (issue 14): the 'evict' command, its candidates index, tombstones, settings, and that
// replicas applying the same log (or restoring a snapshot midway) evict exactly the same records.
import assert from 'node:assert/strict'
import { ClusterState } from '../../src/sched/state-machine.js'
import type { Command } from '../../src/sched/commands.js'
import { MAX_EVICTED_TOMBSTONES } from '../../src/protocol/limits.js'
import { encodeValue, decodeValue } from '../../src/protocol/codec.js'
import { T0, assign, finished, result, run, submit, task } from './state-fixtures.js'

const H = 3_600_000

function settings (s: Extract<Command, { type: 'settings' }>['settings'], by = 'local-admin'): Command {
  return { type: 'settings', at: T0, by, settings: s }
}

function evict (st: ClusterState, at: number, max = 1000): Command {
  return { type: 'evict', at, ...st.evictionCandidates(at, max) }
}

/** a, b standalone; c, d in batch B; all completed at T0+10 */
function finishedState (): { st: ClusterState, cmds: Command[] } {
  const st = new ClusterState()
  const cmds: Command[] = [
    submit([task('a'), task('b', { req: { resultTtlSeconds: 60 } })]),
    submit([task('c'), task('d')], { batch: { id: 'B', name: 'batch' } }),
    assign('a', 1, 'dev1'), assign('b', 1, 'dev1'), assign('c', 1, 'dev1'), assign('d', 1, 'dev1'),
    finished([result('a', 1, 'dev1', 'completed'), result('b', 1, 'dev1', 'completed'), result('c', 1, 'dev1', 'completed')])
  ]
  run(st, cmds)
  return { st, cmds }
}

describe('ClusterState: retention and eviction', () => {
  it('stamps endedAt with the command time and evicts nothing before the retention', () => {
    const { st } = finishedState()
    assert.equal(st.getTask('a')!.endedAt, T0 + 10)
    assert.deepEqual(st.evictionCandidates(T0 + 30_000, 100), { taskIds: [], batchIds: [], workflowIds: [] })
    assert.deepEqual(st.evictionCandidates(T0 + H, 100), { taskIds: ['b'], batchIds: [], workflowIds: [] }, 'b has a 60 s TTL')
  })

  it('a per-task result_ttl_seconds wins over the cluster retention', () => {
    const { st } = finishedState()
    const c = st.evictionCandidates(T0 + 10 + 60_000, 100)
    assert.deepEqual(c, { taskIds: ['b'], batchIds: [], workflowIds: [] })
    run(st, [{ type: 'evict', at: T0 + 10 + 60_000, ...c }])
    assert.equal(st.getTask('b'), undefined)
    assert.equal(st.wasEvicted('b'), true)
    assert.equal(st.wasEvicted('zzz'), false)
    assert.equal(st.evictedTotal, 1)
  })

  it('a batch goes whole, only once every task in it has ended and expired', () => {
    const { st } = finishedState()
    const late = T0 + 25 * H
    assert.deepEqual(st.evictionCandidates(late, 100).batchIds, [], 'd still queued: the batch stays')
    run(st, [finished(result('d', 1, 'dev1', 'completed'), late)])
    assert.deepEqual(st.evictionCandidates(late + 1, 100).batchIds, [])
    const at = late + 24 * H
    run(st, [evict(st, at)])
    assert.equal(st.getTask('c'), undefined)
    assert.equal(st.getTask('d'), undefined)
    assert.equal(st.batchProgress('B'), undefined)
    assert.equal(st.wasEvicted('batch:B'), true)
  })

  it('apply re-checks the time: an evict naming an unexpired or live task changes nothing', () => {
    const { st } = finishedState()
    run(st, [{ type: 'evict', at: T0 + H, taskIds: ['a', 'b', 'nope'], batchIds: ['B'], workflowIds: ['W'] }])
    assert.ok(st.getTask('a') !== undefined)
    assert.ok(st.getTask('c') !== undefined)
    assert.equal(st.getTask('b'), undefined, 'b expired after 60 s')
  })

  it('the retention is a replicated setting (admin only); null resets it', () => {
    const { st } = finishedState()
    const refused = st.apply(settings({ retentionMs: 1000 }, 'mallory'), st.appliedIndex + 1)
    assert.equal(refused.reply?.ok, false)
    run(st, [settings({ retentionMs: 1000 })])
    assert.equal(st.retentionMs, 1000)
    assert.deepEqual(st.evictionCandidates(T0 + 2000, 100).taskIds, ['a'])
    run(st, [settings({ retentionMs: null })])
    assert.equal(st.retentionMs, 24 * H)
  })

  it('an evicted id resubmitted is a duplicate, not run again', () => {
    const { st } = finishedState()
    run(st, [evict(st, T0 + 25 * H)])
    const out = st.apply(submit([task('a')]), st.appliedIndex + 1)
    assert.deepEqual(out.reply, { ok: true, taskIds: ['a'], duplicate: true })
    assert.equal(st.getTask('a'), undefined)
  })

  it('idempotency keys of evicted tasks are forgotten (bounded by what is kept)', () => {
    const st = new ClusterState()
    run(st, [submit([task('k', { idempotencyKey: 'key1' })]), assign('k', 1, 'dev1'), finished(result('k', 1, 'dev1', 'failed', { error: { type: 'invalid_payload', message: 'x' } }))])
    assert.equal(st.getTask('k')!.status, 'failed')
    run(st, [evict(st, T0 + 25 * H)])
    assert.equal(st.getTask('k'), undefined)
    assert.equal(st.snapshot().idempotency.length, 0)
  })

  it('the failover chain goes together; a workflow only when it is over', () => {
    const st = new ClusterState()
    run(st, [
      submit([task('x')]), assign('x', 1, 'dev1'), { type: 'deviceDown', at: T0 + 1, deviceId: 'dev1' },
      assign('x-f1', 1, 'dev2', T0 + 2), finished(result('x-f1', 1, 'dev2', 'completed'), T0 + 3),
      submit([], { workflow: { id: 'W', name: 'wf', steps: [{ name: 's1', task: task('w1'), dependsOn: [] }, { name: 's2', task: task('w2'), dependsOn: ['s1'] }] } }),
      assign('w1', 1, 'dev2'), finished(result('w1', 1, 'dev2', 'completed'))
    ])
    const c = st.evictionCandidates(T0 + 25 * H, 100)
    assert.deepEqual(c.taskIds, ['x'])
    assert.deepEqual(c.workflowIds, [], 'w2 has not run: the workflow is still running')
    run(st, [{ type: 'evict', at: T0 + 25 * H, ...c }])
    assert.equal(st.getTask('x'), undefined)
    assert.equal(st.getTask('x-f1'), undefined)
    assert.equal(st.wasEvicted('x-f1'), true)
    assert.ok(st.workflowStatus('W') !== undefined)
  })

  it('every replica evicts the same records, including one restored from a snapshot midway', () => {
    const { cmds } = finishedState()
    const a = new ClusterState()
    run(a, cmds)
    const snap = decodeValue(encodeValue(a.snapshot()))
    const b = ClusterState.restore(snap)
    const tail: Command[] = [settings({ retentionMs: 500 }), { type: 'evict', at: T0 + 1000, taskIds: ['a', 'b'], batchIds: ['B'], workflowIds: [] }]
    run(a, tail); run(b, tail)
    assert.deepEqual(decodeValue(encodeValue(b.snapshot())), decodeValue(encodeValue(a.snapshot())))
    assert.equal(a.getTask('a'), undefined)
    assert.ok(a.getTask('c') !== undefined, 'd is still queued: batch B stays')
  })

  it('tombstones are bounded; older evicted ids are still recognised by their id time', () => {
    const st = new ClusterState()
    const ids: string[] = []
    // ULID-like ids whose time part grows: 10 chars of time, 16 of randomness
    const crock = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
    const idAt = (ms: number, n: number): string => {
      let t = ''; let v = ms
      for (let i = 0; i < 10; i++) { t = crock[v % 32] + t; v = Math.floor(v / 32) }
      return t + String(n).padStart(16, '0')
    }
    const total = MAX_EVICTED_TOMBSTONES + 10
    for (let i = 0; i < total; i += 5000) {
      const batch = []
      for (let j = i; j < Math.min(total, i + 5000); j++) { const id = idAt(T0 + j, j); ids.push(id); batch.push(task(id)) }
      run(st, [submit(batch), { type: 'cancel', at: T0, taskId: batch[0].id, principal: 'alice' }])
      for (const t of batch.slice(1)) st.apply({ type: 'cancel', at: T0, taskId: t.id, principal: 'alice' }, st.appliedIndex + 1)
      run(st, [{ type: 'evict', at: T0 + 25 * H, taskIds: batch.map(t => t.id), batchIds: [], workflowIds: [] }])
    }
    assert.equal(st.size, 0)
    assert.equal(st.snapshot().tombstones!.length, MAX_EVICTED_TOMBSTONES)
    assert.equal(st.wasEvicted(ids[0]), true, 'forgotten tombstone, recognised by id time')
    assert.equal(st.wasEvicted(ids[ids.length - 1]), true)
    assert.equal(st.wasEvicted(idAt(T0 + 10 * total, 1)), false, 'a newer unknown id is not evicted')
  })

  it('queue_full uses the replicated maxQueueSize; nothing queued is dropped', () => {
    const st = new ClusterState()
    run(st, [settings({ maxQueueSize: 3 }), submit([task('q1'), task('q2')])])
    const refused = st.apply(submit([task('q3'), task('q4')]), st.appliedIndex + 1)
    assert.equal(refused.reply?.ok, false)
    assert.equal((refused.reply as { error: { type: string } }).error.type, 'queue_full')
    assert.deepEqual(st.pendingInOrder(T0).map(t => t.id), ['q1', 'q2'])
    assert.equal(st.apply(submit([task('q3')]), st.appliedIndex + 1).reply?.ok, true)
  })
})

describe('EndedIndex', () => {
  it('finds exactly the expired live entries after random adds and removes (seeded)', async () => {
    const { EndedIndex } = await import('../../src/sched/retention.js')
    const { mulberry32 } = await import('../../src/sched/rng.js')
    const rng = mulberry32(42)
    const idx = new EndedIndex()
    const live = new Map<string, number>()
    for (let step = 0; step < 5000; step++) {
      const id = `t${Math.floor(rng() * 800)}`
      if (rng() < 0.6) {
        const endedAt = Math.floor(rng() * 10_000)
        const ttl = rng() < 0.3 ? Math.floor(rng() * 5) : undefined
        idx.add({ id, endedAt, task: { requirements: { resultTtlSeconds: ttl } } } as never)
        live.set(id, endedAt + (ttl === undefined ? 1000 : ttl * 1000))
      } else { idx.remove(id); live.delete(id) }
      if (step % 250 === 0) {
        const now = Math.floor(rng() * 12_000)
        const want = [...live].filter(([, exp]) => exp <= now).map(([k]) => k).sort()
        assert.deepEqual(idx.expired(now, 1000, 1e9).sort(), want)
      }
    }
    assert.equal(idx.size, live.size)
  })
})
