// The whole cluster layer in the seeded simulator (cluster-sim.ts): a short swarm sweep, and
// sabotage runs proving the checkers can fail (a checker that never fires proves nothing).
import { strict as assert } from 'node:assert'
import type { ApplyOutcome, Command, TaskRecord } from '../../src/sched/commands.js'
import { runClusterSeed } from './cluster-sim.js'
import type { ClusterProcess } from './cluster-node.js'
import { SimFailure } from './simulator.js'

const SWEEP_SEEDS = 30
const SWEEP_STEPS = 200

async function failureOf (seed: number, steps: number, sabotage: (proc: ClusterProcess) => void): Promise<SimFailure> {
  try {
    await runClusterSeed(seed, { steps, sabotage })
  } catch (err) {
    assert.ok(err instanceof SimFailure, String(err))
    return err
  }
  assert.fail(`seed ${seed} passed despite the sabotage`)
}

describe('cluster simulation (production core, leader loop and worker over the simulated network)', function () {
  this.timeout(120_000)

  it(`${SWEEP_SEEDS} seeds × ${SWEEP_STEPS} steps: every acknowledged task one terminal outcome, nothing twice, all nodes equal`, async () => {
    let acknowledged = 0
    let completed = 0
    for (let seed = 1; seed <= SWEEP_SEEDS; seed++) {
      const r = await runClusterSeed(seed, { steps: SWEEP_STEPS })
      acknowledged += r.acknowledged
      completed += r.completed
    }
    // the sweep exercised something: work was acknowledged and completed
    assert.ok(acknowledged > 100, `only ${acknowledged} acknowledged submissions`)
    assert.ok(completed > 50, `only ${completed} completed`)
  })

  it('the seeds that found bugs run clean', async () => {
    // 80, 218, 331: a worker on a leader that had stepped down (reported after its fsync) resent
    // its results in-process without end (src/node/worker/worker.ts, flush)
    // 36227: two copies of one submission in one turn of the leader (messages in bursts) each
    // reserved a slot and only one was given back (src/node/leader/leader.ts, placeSubmitted;
    // CI's soak seed 13 found it first; the leader-reservations check catches it at step 242)
    for (const seed of [80, 218, 331, 36227]) await runClusterSeed(seed, { steps: 300 })
  })

  it('a seed replays exactly', async () => {
    const a = await runClusterSeed(7, { steps: 100 })
    const b = await runClusterSeed(7, { steps: 100 })
    assert.deepEqual(b, a)
  })

  it('sabotage: a leader that acknowledges a submission without committing it is caught (lost)', async () => {
    let done = false
    const err = await failureOf(1, 100, proc => {
      const real = proc.core.proposeAndWait.bind(proc.core)
      proc.core.proposeAndWait = async (cmd: Command, ms?: number): Promise<ApplyOutcome> => {
        if (done || cmd.type !== 'submit' || cmd.tasks.length === 0) return await real(cmd, ms)
        done = true
        return { events: [], reply: { ok: true, taskIds: cmd.tasks.map(t => t.id), duplicate: false } } as unknown as ApplyOutcome
      }
    })
    assert.match(err.message, /lost: .*acknowledged task .* is missing/)
  })

  it('sabotage: a state machine that records a completed attempt twice on one node is caught (twice, divergence)', async () => {
    const err = await failureOf(1, 100, proc => {
      if (proc.id !== 'n1') return
      let done = false // per process: a restarted n1 replays its log and records it twice again
      proc.core.onEvent(e => {
        if (done || e.kind !== 'complete') return
        const rec = proc.core.state.getTask(e.taskId)
        if (rec === undefined) return
        done = true
        // an ended record is frozen in test runs (changeable, src/sched/state/records.ts): put a changed copy in its place
        const tasks = (proc.core.state as unknown as { s: { tasks: Map<string, TaskRecord> } }).s.tasks
        tasks.set(rec.id, { ...rec, attempts: [...rec.attempts, { ...rec.attempts[rec.attempts.length - 1]! }] })
      })
    })
    assert.match(err.message, /twice: task .* lists an attempt twice/)
    assert.match(err.message, /divergence/)
  })
})
