// The production-driver simulation with the lying-disk fault on (test/sim/lying-disk.ts): restarts
// lose synced, acknowledged entries, and every node must still catch up after the heal.
import assert from 'node:assert/strict'
import { runLyingDiskSeed } from './lying-disk.js'

const SEEDS = 30
const STEPS = 1500

describe('raft simulator: a disk that lied about fsync (lying-disk fault)', function () {
  this.timeout(120_000)

  it(`${SEEDS} seeds × ${STEPS} steps: safety after every event, every node catches up after heal`, async () => {
    let lies = 0
    let entriesLost = 0
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await runLyingDiskSeed(seed, STEPS) // rejects with a SimFailure naming the seed and how to replay it
      lies += r.lies
      entriesLost += r.entriesLost
    }
    // before the leader could lower a follower's match, some of these seeds never caught up
    assert.ok(lies > SEEDS / 2, `only ${lies} restarts lost synced entries`)
    assert.ok(entriesLost > lies, `${entriesLost} entries lost`)
  })
})
