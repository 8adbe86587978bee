// Swarm runner for the deterministic Raft simulator. By default every node runs the production
// driver (src/node/raft/driver.ts) over simulated time, network and disk (test/sim/driver-sim.ts);
// --reference runs the pure core under the strict reference driver (test/sim/simulator.ts) instead.
//   npx tsx scripts/sim.ts --seeds 1000 --steps 2000 [--start 1] [--reference]
//   SEED=42 npx tsx scripts/sim.ts [--steps 2000] [--trace]   replays one seed exactly
import { runSeed, SimFailure, type SimResult } from '../test/sim/simulator.js'
import { runDriverSeed, type DriverSimResult } from '../test/sim/driver-sim.js'

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return dflt
  const v = Number(process.argv[i + 1])
  if (!Number.isInteger(v) || v < 0) { console.error(`--${name} must be a non-negative integer`); process.exit(2) }
  return v
}

const steps = arg('steps', 2000)
const trace = process.argv.includes('--trace')
const reference = process.argv.includes('--reference')
const only = process.env.SEED
const seeds: number[] = []
if (only !== undefined && only !== '') {
  seeds.push(Number(only))
} else {
  const start = arg('start', 1)
  const count = arg('seeds', 100)
  for (let s = start; s < start + count; s++) seeds.push(s)
}

async function run (seed: number): Promise<SimResult | DriverSimResult> {
  const t = trace ? (s: string) => { console.log(s) } : undefined
  return reference ? runSeed(seed, steps, t) : await runDriverSeed(seed, steps, t)
}

const t0 = process.hrtime.bigint()
let failed = 0
const totals = {
  steps: 0, applied: 0, leaders: 0, reads: 0, crashes: 0, partitions: 0, confChanges: 0, snapshotsSent: 0, messages: 0,
  maxHealTicks: 0, maxCatchUpTicks: 0, fsyncs: 0, lostWrites: 0, maxInFlight: 0
}
for (const seed of seeds) {
  let r: SimResult | DriverSimResult
  try {
    r = await run(seed)
  } catch (err) {
    failed++
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
  if ('fsyncs' in r) { totals.fsyncs += r.fsyncs; totals.lostWrites += r.lostWrites; totals.maxInFlight = Math.max(totals.maxInFlight, r.maxInFlight) }
  if (seeds.length === 1) console.log(JSON.stringify(r, null, 1))
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9
console.log(JSON.stringify({ driver: reference ? 'reference' : 'production', seeds: seeds.length, stepsPerSeed: steps, failed, seconds: Number(secs.toFixed(1)), ...totals }))
process.exit(failed > 0 ? 1 : 0)
