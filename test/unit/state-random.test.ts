// Seeded random command streams: two replicas (one snapshotted and restored at random points) must
// stay identical, and the state's own invariants must hold after every command.
import assert from 'node:assert/strict'
import { ClusterState } from '../../src/sched/state-machine.js'
import { mulberry32, type Rng } from '../../src/sched/rng.js'
import type { Command, TaskRecord } from '../../src/sched/commands.js'
import { TERMINAL_STATUSES } from '../../src/sched/types.js'
import { T0, task } from './state-fixtures.js'

const DEVICES = ['d1', 'd2', 'd3']
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]

/** A plausible next command given the state (some of them deliberately stale or bogus). */
function nextCommand (rng: Rng, st: ClusterState, n: number, at: number): Command {
  const all = st.listTasks()
  const r = rng()
  if (r < 0.18 || all.length === 0) {
    if (rng() < 0.15) {
      const id = `w${n}`
      return {
        type: 'submit', requestId: `q${n}`, principal: 'alice', at, tasks: [],
        workflow: { id, name: id, steps: [
          { name: 'a', task: task(`${id}a`), dependsOn: [] },
          { name: 'b', task: task(`${id}b`, { payload: { x: '{{prev.result}}' } }), dependsOn: ['a'] },
          { name: 'c', task: task(`${id}c`), dependsOn: ['a'] },
          { name: 'd', task: task(`${id}d`), dependsOn: ['b', 'c'] }
        ] }
      }
    }
    if (rng() < 0.2) {
      // a chunk of a chunked batch: indexes drawn at random, so some stage, some seal, many are refused
      const ts = Array.from({ length: 1 + Math.floor(rng() * 2) }, (_, i) => task(`c${n}.${i}`))
      return { type: 'submit', requestId: `q${n}`, principal: 'alice', at, tasks: ts, batch: { id: `cb${Math.floor(rng() * 3)}`, name: 'c' }, chunk: { index: Math.floor(rng() * 3), count: 3 } }
    }
    const k = 1 + Math.floor(rng() * 3)
    const tasks = Array.from({ length: k }, (_, i) => task(`t${n}.${i}`, { priority: 1 + Math.floor(rng() * 5), req: { maxRetries: Math.floor(rng() * 3) } }))
    return { type: 'submit', requestId: rng() < 0.1 ? 'q-repeat' : `q${n}`, principal: 'alice', at, tasks, ...(rng() < 0.3 ? { batch: { id: `b${n}`, name: 'b' } } : {}) }
  }
  const t: TaskRecord = pick(rng, all)
  const cur = t.attempts.length
  const dev = t.deviceId ?? pick(rng, DEVICES)
  if (r < 0.40) return { type: 'assign', at, assignments: st.pendingInOrder(at, 3).map(p => ({ taskId: p.id, attempt: p.attempts.length + 1, deviceId: pick(rng, DEVICES) })) }
  if (r < 0.50) return { type: 'started', at, taskId: t.id, attempt: cur, deviceId: dev }
  if (r < 0.78) {
    const attempt = rng() < 0.8 ? cur : Math.max(1, cur - 1)
    const status = pick(rng, ['completed', 'completed', 'failed', 'timeout'] as const)
    const error = status === 'failed' ? { type: pick(rng, ['network_error', 'execution_error'] as const), message: 'x' } : undefined
    return { type: 'finished', at, results: [{ taskId: t.id, attempt, deviceId: dev, status, result: { n }, startedAt: at, finishedAt: at, ...(error ? { error } : {}) }] }
  }
  if (r < 0.84) return { type: 'refused', at, taskId: t.id, attempt: cur, deviceId: dev, reason: 'full' }
  if (r < 0.89) return { type: 'expire', at, taskId: t.id, attempt: cur }
  if (r < 0.94) return { type: 'cancel', at, taskId: t.id, principal: 'alice' }
  if (r < 0.97) return { type: 'preempt', at, taskId: t.id, attempt: cur, deviceId: dev, forTaskId: 'urgent' }
  return { type: 'deviceDown', at, deviceId: pick(rng, DEVICES) }
}

function checkInvariants (st: ClusterState, at: number): void {
  const snap = st.snapshot() as unknown as { tasks: TaskRecord[], queue: Array<[string, number]>, blocked: string[] }
  const counts: Record<string, number> = {}
  for (const t of snap.tasks) counts[t.status] = (counts[t.status] ?? 0) + 1
  for (const [s, n] of Object.entries(st.counts)) assert.equal(n, counts[s] ?? 0, `count of ${s}`)
  const queued = new Set(snap.queue.map(q => q[0]))
  const blocked = new Set(snap.blocked)
  for (const t of snap.tasks) {
    // a pending task is either in the ready queue or blocked on its workflow deps, never both
    if (t.status === 'pending') assert.ok(queued.has(t.id) !== blocked.has(t.id), `pending ${t.id} queued xor blocked`)
    else assert.ok(!queued.has(t.id) && !blocked.has(t.id), `${t.status} ${t.id} not in the queue`)
    const active = t.status === 'queued' || t.status === 'running'
    assert.equal(active, t.deviceId !== undefined && st.runningOn(t.deviceId).some(r => r.id === t.id), `device index for ${t.id}`)
    if (TERMINAL_STATUSES.has(t.status)) assert.ok(t.finishedAt !== undefined, `finishedAt on ${t.id}`)
    t.attempts.forEach((a, i) => assert.equal(a.attempt, i + 1))
    if (t.status === 'completed') assert.equal(t.attempts[t.attempts.length - 1].status, 'completed')
    if (t.replacedBy !== undefined) assert.equal(st.getTask(t.replacedBy)?.replaces, t.id)
  }
  assert.equal(st.readySize, queued.size)
  assert.ok(st.pendingInOrder(at).every(t => t.status === 'pending'))
}

describe('ClusterState: random command streams', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: replicas agree, snapshots restore exactly, invariants hold`, () => {
      const rng = mulberry32(seed)
      let a = new ClusterState()
      const b = new ClusterState()
      let at = T0
      for (let n = 0; n < 450; n++) {
        at += Math.floor(rng() * 3000)
        const cmd = structuredClone(nextCommand(rng, b, n, at))
        const oa = a.apply(structuredClone(cmd), n + 1)
        const ob = b.apply(cmd, n + 1)
        assert.deepEqual(oa, ob, `outcome of command ${n} (${cmd.type})`)
        if (rng() < 0.05) a = ClusterState.restore(structuredClone(a.snapshot()))
        checkInvariants(b, at)
      }
      assert.equal(JSON.stringify(a.snapshot()), JSON.stringify(b.snapshot()))
      // a restored replica's ready queue orders (and ages) like the original
      for (const t of [at, at + 600_000]) assert.deepEqual(a.pendingInOrder(t).map(r => r.id), b.pendingInOrder(t).map(r => r.id))
      assert.ok(b.counts.completed > 0, 'the stream completes some tasks')
      // the reliability table (in the snapshot compared above) saw results
      assert.ok(b.deviceReliability(at).length > 0, 'reliability records')
    })
  }
})
