// The production Raft driver (src/node/raft/driver.ts) in the deterministic simulator, in CI: a
// short swarm of seeds over simulated time, network and a disk that loses unsynced writes on a
// crash; every invariant after every event; heal → commit → catch up within a bound.
// Budget: SIM_DRIVER_SEEDS (default 40) × SIM_DRIVER_STEPS (default 1000): ~8 s alone on 2 cores, ~25 s when shared.
// Long sweeps: `npx tsx scripts/sim.ts --seeds 1000 --steps 2000`; replay: `SEED=n npx tsx scripts/sim.ts`.
import assert from 'node:assert/strict'
import { RaftDriver } from '../../src/node/raft/driver.js'
import type { Message, Ready } from '../../src/protocol/raft/types.js'
import { runDriverSeed } from './driver-sim.js'

const SEEDS = Number(process.env.SIM_DRIVER_SEEDS ?? 40)
const STEPS = Number(process.env.SIM_DRIVER_STEPS ?? 1000)
const FIRST = Number(process.env.SIM_FIRST_SEED ?? 1)

describe('raft simulator: the production driver (pipelined fsync)', function () {
  this.timeout(120_000)

  it(`${SEEDS} seeds × ${STEPS} steps: safety after every event, liveness after heal`, async () => {
    const t = { applied: 0, leaders: 0, snapshots: 0, confChanges: 0, reads: 0, lostWrites: 0, maxInFlight: 0, maxPipelined: 0, earlyPipelined: 0 }
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const r = await runDriverSeed(seed, STEPS) // rejects with a SimFailure naming the seed and how to replay it
      t.applied += r.applied; t.leaders += r.leaders; t.snapshots += r.snapshotsSent; t.confChanges += r.confChanges
      t.reads += r.reads; t.lostWrites += r.lostWrites; t.maxInFlight = Math.max(t.maxInFlight, r.maxInFlight); t.maxPipelined = Math.max(t.maxPipelined, r.maxPipelined); t.earlyPipelined += r.earlyPipelined
    }
    // the swarm exercised what matters: a full pipeline, crashes that lost unsynced writes, the rest
    assert.ok(t.applied > SEEDS * 50, `applied ${t.applied}`)
    assert.ok(t.leaders > SEEDS, `leaders ${t.leaders}`)
    assert.equal(t.maxPipelined, 4, 'some node had 4 Readies waiting for their fsync')
    // group commit across Readies: one fsync at a time per node, the Readies written meanwhile share the next
    assert.equal(t.maxInFlight, 1, 'never two fsyncs in flight on one node')
    // appends whose commit index was already durable left while an earlier fsync was pending
    assert.ok(t.earlyPipelined > 0, 'the pipelined early send was exercised')
    assert.ok(t.lostWrites > 0, 'some crash lost unsynced writes')
    assert.ok(t.snapshots > 0 && t.confChanges > 0 && t.reads > 0, JSON.stringify(t))
  })

  it('the seeds that found driver bugs run clean', async () => {
    // (seed, steps) that failed before the fixes, on the simulator as of those commits: 1014 had
    // two leaders in term 4 (a role reported with a later term); 107, 133 and 172 stopped a
    // follower's Raft (a local snapshot older than a pipelined one from the leader); 10386: a sole
    // voter told its learner a commit index covering an entry it had not written yet; 20311: the
    // checker's own false alarm (a true acknowledgement of an entry a newer leader then overwrote)
    for (const [seed, steps] of [[1014, 2000], [107, 1500], [133, 1500], [172, 1500], [10386, 1000], [20311, 1000]] as const) await runDriverSeed(seed, steps)
  })

  it('a seed replays exactly (same schedule, same outcome)', async () => {
    const a = await runDriverSeed(7, 400)
    const b = await runDriverSeed(7, 400)
    assert.deepEqual(a, b)
  })

  it('the checkers catch a driver that acknowledges before its fsync', async () => {
    // Sabotage: every message of a Ready leaves early (before its write is durable), acknowledgements
    // and votes included, as a driver that ignores the fsync would do. Some seed must trip a checker.
    const proto = RaftDriver.prototype as unknown as { sendEarly: (rd: Ready) => number }
    const sendEarly = proto.sendEarly
    proto.sendEarly = function (this: { opts: { send: (m: Message) => void } }, rd: Ready): number {
      for (const m of rd.messages) this.opts.send(m)
      return rd.messages.length
    }
    let caught = ''
    try {
      for (let seed = 1; seed <= 20 && caught === ''; seed++) {
        try { await runDriverSeed(seed, 400) } catch (err) { caught = String(err) }
      }
    } finally {
      proto.sendEarly = sendEarly
    }
    assert.match(caught, /ready order/)
  })

  it('the checkers catch a leader that tells a commit index its own disk does not hold yet', async () => {
    // Sabotage: the driver believes every write durable the moment an fsync starts, so appends carry
    // commit indexes counting the leader's unsynced entries while an fsync is pending.
    const proto = RaftDriver.prototype as unknown as { startFsync: () => Promise<void> }
    const startFsync = proto.startFsync
    proto.startFsync = function (this: { durableIndex: number, durableTerm: number }): Promise<void> {
      this.durableIndex = Number.MAX_SAFE_INTEGER
      this.durableTerm = Number.MAX_SAFE_INTEGER
      return startFsync.call(this)
    }
    let caught = ''
    try {
      for (let seed = 1; seed <= 40 && caught === ''; seed++) {
        try { await runDriverSeed(seed, 1000) } catch (err) { caught = String(err) }
      }
    } finally {
      proto.startFsync = startFsync
    }
    assert.match(caught, /ready order/)
  })

  it('the checkers catch a leader that certifies entries its disk does not hold yet (commit inference)', async () => {
    // Sabotage: the leader's appends say its whole log is durable the moment they leave, so a
    // follower that is a majority with it commits entries the leader can still lose in a crash.
    // Seeds 1-1,500 × 400 steps: 24, 75, 350 and 506 caught it (every seed runs clean without it).
    const proto = RaftDriver.prototype as unknown as { certifiedDurable: () => number }
    const certifiedDurable = proto.certifiedDurable
    proto.certifiedDurable = function (this: { raft: { raft: { log: { lastIndex: () => number } } } }): number { return this.raft.raft.log.lastIndex() }
    let caught = ''
    try {
      for (const seed of [24, 75, 350, 506]) {
        if (caught !== '') break
        try { await runDriverSeed(seed, 400) } catch (err) { caught = String(err) }
      }
    } finally {
      proto.certifiedDurable = certifiedDurable
    }
    assert.match(caught, /leader completeness/)
  })
})
