// Swarm runner for the deterministic Raft simulator. By default every node runs the production
// driver (src/node/raft/driver.ts) over simulated time, network and disk (test/sim/driver-sim.ts);
// --reference runs the pure core under the strict reference driver (test/sim/simulator.ts) instead.
//   npx tsx scripts/sim.ts --seeds 1000 --steps 2000 [--start 1] [--reference]
//   npx tsx scripts/sim.ts --lying-disk ...   restarts may lose synced writes too (test/sim/lying-disk.ts)
//   SEED=42 npx tsx scripts/sim.ts [--steps 2000] [--trace]   replays one seed exactly
//   npx tsx scripts/sim.ts --seeds 200 --steps 1500 --hash    one line per seed: a hash of every message
//     sent, every trace line and the result; compare before and after a refactoring of the Raft core
import { arg, checkFlags, seedList } from './lib/sim-args.js'
import { createHash, type Hash } from 'node:crypto'
import { runSeed, SimFailure, type SimResult } from '../test/sim/simulator.js'
import { runDriverSeed, type DriverSimResult } from '../test/sim/driver-sim.js'
import { runLyingDiskSeed, type LyingDiskStats } from '../test/sim/lying-disk.js'
import { SimNetwork } from '../test/sim/network.js'
import type { Message } from '../src/protocol/raft/types.js'


checkFlags(['seeds', 'start', 'steps', 'trace', 'reference', 'hash', 'lying-disk'])
const steps = arg('steps', 2000)
const trace = process.argv.includes('--trace')
const reference = process.argv.includes('--reference')
const hashing = process.argv.includes('--hash')
const lyingDisk = process.argv.includes('--lying-disk')
const seeds = seedList(100)

/** a message's fields in a fixed order, so a hash does not depend on the order they were set in */
function canonical (m: Message): string {
  const bytes = (b: Uint8Array | undefined): string => b === undefined ? '-' : Buffer.from(b).toString('hex')
  const ents = (m.entries ?? []).map(e => `${e.term}/${e.index}/${e.type}/${bytes(e.data)}`).join(',')
  const snap = m.snapshot === undefined ? '-' : `${m.snapshot.meta.index}/${m.snapshot.meta.term}/${JSON.stringify(m.snapshot.meta.conf)}/${bytes(m.snapshot.data)}`
  return [m.type, m.from, m.to, m.term, m.index, m.logTerm, m.commit, m.reject, m.rejectHint, bytes(m.context), ents, snap].join('|')
}

let hash: Hash | undefined
if (hashing) {
  // every message any simulated node sends goes through SimNetwork.send
  const send = SimNetwork.prototype.send
  SimNetwork.prototype.send = function (this: SimNetwork, m: Message) { hash?.update(canonical(m) + '\n'); send.call(this, m) }
}

type Result = SimResult | DriverSimResult | (DriverSimResult & LyingDiskStats)

async function run (seed: number): Promise<Result> {
  const t = trace || hashing
    ? (s: string) => { if (trace) console.log(s); hash?.update(s + '\n') }
    : undefined
  if (reference) return runSeed(seed, steps, t)
  return lyingDisk ? await runLyingDiskSeed(seed, steps, undefined, t) : await runDriverSeed(seed, steps, t)
}

const t0 = process.hrtime.bigint()
let failed = 0
const totals = {
  steps: 0, applied: 0, leaders: 0, reads: 0, crashes: 0, partitions: 0, confChanges: 0, snapshotsSent: 0, messages: 0,
  maxHealTicks: 0, maxCatchUpTicks: 0, fsyncs: 0, lostWrites: 0, maxInFlight: 0, lies: 0, entriesLost: 0
}
for (const seed of seeds) {
  let r: Result
  if (hashing) hash = createHash('sha256')
  try {
    r = await run(seed)
  } catch (err) {
    failed++
    if (hashing && hash !== undefined) console.log(`hash seed=${seed} FAIL ${hash.update(String(err)).digest('hex').slice(0, 16)}`)
    if (err instanceof SimFailure) {
      console.error(`FAIL seed=${seed}: ${err.message}`)
      console.error(`  replay: SEED=${seed} npx tsx scripts/sim.ts --steps ${steps}${reference ? ' --reference' : ''} --trace`)
      if (process.env.STACK !== undefined) console.error(err.stack)
    } else throw err
    continue
  }
  totals.steps += r.steps; totals.applied += r.applied; totals.leaders += r.leaders; totals.reads += r.reads; totals.crashes += r.crashes
  totals.partitions += r.partitions; totals.confChanges += r.confChanges; totals.snapshotsSent += r.snapshotsSent
  totals.messages += r.messages; totals.maxHealTicks = Math.max(totals.maxHealTicks, r.healTicks)
  totals.maxCatchUpTicks = Math.max(totals.maxCatchUpTicks, r.catchUpTicks)
  if ('lies' in r) { totals.lies += r.lies; totals.entriesLost += r.entriesLost }
  if ('fsyncs' in r) { totals.fsyncs += r.fsyncs; totals.lostWrites += r.lostWrites; totals.maxInFlight = Math.max(totals.maxInFlight, r.maxInFlight) }
  if (hashing && hash !== undefined) console.log(`hash seed=${seed} ${hash.update(JSON.stringify(r)).digest('hex').slice(0, 16)}`)
  if (seeds.length === 1) console.log(JSON.stringify(r, null, 1))
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9
console.log(JSON.stringify({ driver: reference ? 'reference' : 'production', lyingDisk, seeds: seeds.length, stepsPerSeed: steps, failed, seconds: Number(secs.toFixed(1)), ...totals }))
process.exit(failed > 0 ? 1 : 0)
