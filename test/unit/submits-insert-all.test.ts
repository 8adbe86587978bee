// ClusterState.submitsInsertAll tells the leader, before a turn's submits commit, whether applying
// them will insert every task as new; it then runs those tasks while their entry commits. So it must
// never say yes when applying refuses or deduplicates anything (a task would run that the cluster
// never accepted), and should say yes whenever everything goes in (else no latency is saved).
// Seeded random states and turns drawn from small pools of ids, keys, request and batch ids, against
// what applying the turn actually does.
import assert from 'node:assert/strict'
import { ClusterState } from '../../src/sched/state-machine.js'
import { mulberry32, type Rng } from '../../src/sched/rng.js'
import type { Command } from '../../src/sched/commands.js'
import { T0, task } from './state-fixtures.js'

type Submit = Extract<Command, { type: 'submit' }>
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!

function randomSubmit (rng: Rng, n: number): Submit {
  const count = 1 + Math.floor(rng() * 3)
  const tasks = Array.from({ length: count }, () => task(pick(rng, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) + String(Math.floor(rng() * 3)), {
    ...(rng() < 0.2 ? { idempotencyKey: pick(rng, ['k1', 'k2']) } : {}),
    ...(rng() < 0.1 ? { requiredPermissions: ['system_commands'] } : {})
  }))
  const cmd: Submit = { type: 'submit', requestId: rng() < 0.2 ? pick(rng, ['r1', 'r2']) : `q${n}`, principal: pick(rng, ['alice', 'alice', 'vic']), at: T0 + n, tasks }
  if (rng() < 0.2) cmd.batch = { id: pick(rng, ['b1', 'b2']), name: 'b' }
  return cmd
}

/** the same state twice: one to ask, one to apply the turn to */
function build (seed: number): [ClusterState, ClusterState, Submit[]] {
  const make = (): { st: ClusterState, turn: Submit[] } => {
    const rng = mulberry32(seed)
    const st = new ClusterState({ maxQueueSize: 1 + Math.floor(rng() * 12) })
    st.apply({ type: 'setRole', at: T0, principal: 'vic', role: 'viewer', by: 'local-admin' }, 1)
    const before = Math.floor(rng() * 5)
    for (let i = 0; i < before; i++) st.apply(randomSubmit(rng, i), 2 + i)
    const turn = Array.from({ length: 1 + Math.floor(rng() * 3) }, (_, i) => randomSubmit(rng, 100 + i))
    return { st, turn }
  }
  const a = make()
  const b = make()
  return [a.st, b.st, a.turn]
}

describe('state: submitsInsertAll predicts what applying a turn of submits does', () => {
  it('yes exactly when every task goes in as new (keyless), over 3,000 seeded turns', () => {
    let yes = 0
    let no = 0
    for (let seed = 1; seed <= 3000; seed++) {
      const [asked, applied, turn] = build(seed)
      const said = asked.submitsInsertAll(turn)
      const existedBefore = new Set(applied.listTasks().map(r => r.id))
      let allNew = true
      const seen = new Set<string>()
      for (const [i, cmd] of turn.entries()) {
        const out = applied.apply(cmd, 100 + i)
        const reply = out.reply as { ok: boolean, duplicate?: boolean, taskIds?: string[] } | undefined
        const inserted = out.events.filter(e => e.kind === 'submit').map(e => e.taskId)
        if (reply?.ok !== true || reply.duplicate === true || inserted.length !== cmd.tasks.length) allNew = false
        for (const t of cmd.tasks) { if (existedBefore.has(t.id) || seen.has(t.id)) allNew = false; seen.add(t.id) }
      }
      const keyless = turn.every(c => c.tasks.every(t => t.idempotencyKey === undefined))
      if (said) {
        yes++
        assert.ok(allNew, `seed ${seed}: said every task goes in as new, but applying refused or deduplicated one: ${JSON.stringify(turn)}`)
      } else {
        no++
        assert.ok(!(allNew && keyless), `seed ${seed}: said no, yet every (keyless) task went in as new`)
      }
    }
    // the pools are small on purpose: both answers must come up often for this to test anything
    assert.ok(yes > 200 && no > 200, `yes ${yes}, no ${no}`)
  })

  it('never yes for a task with an idempotency key, a workflow or a chunk', () => {
    const st = new ClusterState()
    const base = { type: 'submit' as const, requestId: 'r', principal: 'alice', at: T0 }
    assert.equal(st.submitsInsertAll([{ ...base, tasks: [task('a')] }]), true)
    assert.equal(st.submitsInsertAll([{ ...base, tasks: [task('a', { idempotencyKey: 'k' })] }]), false)
    assert.equal(st.submitsInsertAll([{ ...base, tasks: [task('a')], batch: { id: 'b', name: 'b' }, chunk: { index: 0, count: 2 } }]), false)
    assert.equal(st.submitsInsertAll([{ ...base, tasks: [], workflow: { id: 'w', name: 'w', steps: [{ name: 's', task: task('a'), dependsOn: [] }] } }]), false)
  })
})
