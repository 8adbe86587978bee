// Golden transcript of the cluster state machine (issue 15): a seeded, recorded stream of commands
// covering every command family (submit single/batch/chunked, chains, workflows, assign, started,
// results ok/failed/timeout with retries, refused, device down + failover, cancel, expire, handoff,
// roles, settings, evict) with snapshot+restore at random points, applied to one ClusterState. Every
// CHECK_EVERY steps the hash of the state (snapshot and what the queries answer) and the running hash
// of the apply outcomes are compared with test/fixtures/state-golden.json, recorded on the code
// before src/sched/state-machine.ts was split. A refactor that changes any reply, event, record or
// queue order shows up as the first checkpoint that differs.
//
// Re-record (only for an intended behaviour change, and say so in the commit):
//   GOLDEN_UPDATE=1 npx mocha --no-config -n import=tsx test/unit/state-golden.test.ts
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { ApplyOutcome, Command } from '../../src/sched/commands.js'
import { canonical, replay } from './state-transcript.js'

const GOLDEN_FILE = fileURLToPath(new URL('../fixtures/state-golden.json', import.meta.url))
const SEEDS = [11, 12, 13]
const STEPS = 700
const CHECK_EVERY = 25

interface Checkpoint { step: number, state: string, outcomes: string, tasks: number, counts: Record<string, number> }
interface Golden { checkpoints: Record<string, Checkpoint[]>, tally: Record<string, number> }

const sha = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16)

/** Runs one seed; returns the checkpoints and what it exercised. */
function record (seed: number): { checkpoints: Checkpoint[], tally: Record<string, number> } {
  const outcomes = createHash('sha256')
  const out: Checkpoint[] = []
  const tally: Record<string, number> = {}
  replay(seed, STEPS, ({ step, cmd, outcome, st, sizeBefore, restored, views }) => {
    if (cmd.type === 'evict' && st.size < sizeBefore) tally.evicted = (tally.evicted ?? 0) + sizeBefore - st.size
    outcomes.update(canonical({ step, outcome }))
    tallyOutcome(tally, cmd, outcome)
    if (restored) count(tally, 'restore')
    if (step % CHECK_EVERY === 0) {
      const o = outcomes.copy().digest('hex').slice(0, 16)
      out.push({ step, state: sha(canonical(views())), outcomes: o, tasks: st.size, counts: { ...st.counts } })
    }
  })
  return { checkpoints: out, tally }
}

/** What the transcript exercised: command types, event kinds, reply errors, restores. */
function count (tally: Record<string, number>, key: string): void { tally[key] = (tally[key] ?? 0) + 1 }

function tallyOutcome (tally: Record<string, number>, cmd: Command, o: ApplyOutcome): void {
  count(tally, `cmd:${String(cmd.type)}${cmd.type === 'handoff' ? ':' + cmd.phase : ''}${cmd.type === 'submit' ? (cmd.chunk !== undefined ? ':chunk' : cmd.workflow !== undefined ? ':workflow' : cmd.batch !== undefined ? ':batch' : ':single') : ''}`)
  for (const e of o.events) count(tally, `event:${e.kind}${e.kind === 'error' ? ':' + e.status + (e.final ? ':final' : '') : ''}`)
  if (o.reply !== undefined) count(tally, o.reply.ok ? (o.reply.duplicate ? 'reply:duplicate' : 'reply:ok') : `reply:${o.reply.error.type}`)
  if (o.rejected !== undefined) count(tally, 'assign:rejected')
}

describe('ClusterState: golden transcript (behaviour recorded before the split of state-machine.ts)', () => {
  const recorded: Golden = { checkpoints: {}, tally: {} }
  for (const seed of SEEDS) {
    const r = record(seed)
    recorded.checkpoints[String(seed)] = r.checkpoints
    for (const [k, v] of Object.entries(r.tally)) recorded.tally[k] = (recorded.tally[k] ?? 0) + v
  }
  recorded.tally = Object.fromEntries(Object.entries(recorded.tally).sort(([a], [b]) => a < b ? -1 : 1))

  if (process.env.GOLDEN_UPDATE === '1') {
    it('records the golden file', () => {
      writeFileSync(GOLDEN_FILE, JSON.stringify(recorded, null, 1) + '\n')
    })
    return
  }

  const golden = JSON.parse(readFileSync(GOLDEN_FILE, 'utf8')) as Golden
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${STEPS} commands give the recorded state and outcomes at every ${CHECK_EVERY}th step`, () => {
      const got = recorded.checkpoints[String(seed)]
      const want = golden.checkpoints[String(seed)]
      assert.equal(got.length, want.length)
      for (let i = 0; i < want.length; i++) {
        // the first checkpoint that differs says where to look (replay the seed up to that step)
        assert.deepEqual(got[i], want[i], `seed ${seed}: first difference at step ${want[i].step}`)
      }
    })
  }

  it('replies, events and rejections are tallied as recorded', () => {
    assert.deepEqual(recorded.tally, golden.tally)
  })

  it('the transcript covers every command family and every way a task ends', () => {
    const all = Object.values(golden.checkpoints).flat()
    for (const status of ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timeout']) {
      assert.ok(all.some(c => (c.counts[status] ?? 0) > 0), `some checkpoint has a ${status} task`)
    }
    const must = [
      'cmd:submit:single', 'cmd:submit:batch', 'cmd:submit:chunk', 'cmd:submit:workflow', 'cmd:assign', 'cmd:started', 'cmd:finished',
      'cmd:refused', 'cmd:deviceDown', 'cmd:cancel', 'cmd:expire', 'cmd:setRole', 'cmd:settings', 'cmd:evict',
      'cmd:handoff:clone', 'cmd:handoff:release', 'cmd:handoff:abort', 'restore',
      'event:submit', 'event:schedule', 'event:start', 'event:complete', 'event:stale', 'event:retry', 'event:failover',
      'event:error:failed', 'event:error:failed:final', 'event:error:timeout:final', 'event:error:cancelled:final', 'event:error:cancelled',
      'reply:ok', 'reply:duplicate', 'reply:conflict', 'reply:invalid_payload', 'reply:permission_denied', 'reply:not_found', 'reply:queue_full',
      'assign:rejected', 'evicted'
    ]
    for (const k of must) assert.ok((golden.tally[k] ?? 0) > 0, `the transcript never produced ${k}`)
  })
})
