// The deterministic Raft simulator in CI, pure core under the strict reference driver (node.ts): a
// bounded swarm of seeds (each with its own fault rates), every invariant checked after every step,
// then heal → leader → commit within a bound. The production driver runs in driver-sim.test.ts.
// Budget: SIM_SEEDS (default 100) × SIM_STEPS (default 1200) stays well under 90 s on 2 cores.
// The long run is `npx tsx scripts/sim.ts --reference --seeds 1000 --steps 2000`; a failure prints SEED=<n>.
import assert from 'node:assert/strict'
import { runSeed, Simulation } from './simulator.js'

const SEEDS = Number(process.env.SIM_SEEDS ?? 100)
const STEPS = Number(process.env.SIM_STEPS ?? 1200)
const FIRST = Number(process.env.SIM_FIRST_SEED ?? 1)

describe('raft simulator (swarm)', function () {
  this.timeout(120_000)

  it(`${SEEDS} seeds × ${STEPS} steps: safety after every step, liveness after heal`, () => {
    let applied = 0
    let leaders = 0
    let snapshots = 0
    let confChanges = 0
    let reads = 0
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const r = runSeed(seed, STEPS) // throws SimFailure naming the seed and how to replay it
      applied += r.applied; leaders += r.leaders; snapshots += r.snapshotsSent; confChanges += r.confChanges; reads += r.reads
    }
    // the swarm really exercised the features, not just idled
    assert.ok(applied > SEEDS * 50, `applied ${applied}`)
    assert.ok(leaders > SEEDS, `leaders ${leaders}`)
    assert.ok(snapshots > 0 && confChanges > 0 && reads > 0, `snapshots ${snapshots} conf ${confChanges} reads ${reads}`)
  })

  it('a seed replays exactly (same schedule, same outcome)', () => {
    const a = runSeed(7, 400)
    const b = runSeed(7, 400)
    assert.deepEqual(a, b)
  })

  it('the checkers catch a broken core: a follower that forgets its vote elects two leaders', () => {
    // Sabotage: make every node's vote vanish before answering a vote request, so a node can vote
    // twice in a term. Some seed must then trip election safety (or another invariant).
    let caught = 0
    for (let seed = 1; seed <= 40 && caught === 0; seed++) {
      const sim = new Simulation(seed)
      try {
        for (let i = 0; i < 800; i++) {
          for (const n of sim.nodes) { // re-wrap after restarts replace the core
            const raft = n.raw.raft as typeof n.raw.raft & { sabotaged?: boolean }
            if (raft.sabotaged === true) continue
            raft.sabotaged = true
            const orig = raft.step.bind(raft)
            raft.step = m => { if (m.type === 'vote') raft.vote = null; orig(m) }
          }
          sim.runStep(true)
        }
      } catch (err) {
        caught++
        assert.match(String(err), /election safety|leader completeness|state machine safety|log matching/)
      }
    }
    assert.equal(caught, 1)
  })
})
