// Swarm runner for the deterministic Raft simulator.
//   npx tsx scripts/sim.ts --seeds 1000 --steps 2000 [--start 1]
//   SEED=42 npx tsx scripts/sim.ts [--steps 2000] [--trace]   replays one seed exactly
import { runSeed, SimFailure, type SimResult } from '../test/sim/simulator.js'

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return dflt
  const v = Number(process.argv[i + 1])
  if (!Number.isInteger(v) || v < 0) { console.error(`--${name} must be a non-negative integer`); process.exit(2) }
  return v
}

const steps = arg('steps', 2000)
const trace = process.argv.includes('--trace')
const only = process.env.SEED
const seeds: number[] = []
if (only !== undefined && only !== '') {
  seeds.push(Number(only))
} else {
  const start = arg('start', 1)
  const count = arg('seeds', 100)
  for (let s = start; s < start + count; s++) seeds.push(s)
}

const t0 = process.hrtime.bigint()
let failed = 0
const totals = { applied: 0, leaders: 0, reads: 0, crashes: 0, partitions: 0, confChanges: 0, snapshotsSent: 0, messages: 0, maxHealTicks: 0, maxCatchUpTicks: 0 }
for (const seed of seeds) {
  let r: SimResult
  try {
    r = runSeed(seed, steps, trace ? s => console.log(s) : undefined)
  } catch (err) {
    failed++
    if (err instanceof SimFailure) {
      console.error(`FAIL seed=${seed}: ${err.message}`)
      console.error(`  replay: SEED=${seed} npx tsx scripts/sim.ts --steps ${steps} --trace`)
      if (process.env.STACK !== undefined) console.error(err.stack)
    } else throw err
    continue
  }
  totals.applied += r.applied; totals.leaders += r.leaders; totals.reads += r.reads; totals.crashes += r.crashes
  totals.partitions += r.partitions; totals.confChanges += r.confChanges; totals.snapshotsSent += r.snapshotsSent
  totals.messages += r.messages; totals.maxHealTicks = Math.max(totals.maxHealTicks, r.healTicks)
  totals.maxCatchUpTicks = Math.max(totals.maxCatchUpTicks, r.catchUpTicks)
  if (seeds.length === 1) console.log(JSON.stringify(r, null, 1))
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9
console.log(JSON.stringify({ seeds: seeds.length, steps, failed, seconds: Number(secs.toFixed(1)), ...totals }))
process.exit(failed > 0 ? 1 : 0)
