// Swarm runner for the whole-cluster simulation (test/sim/cluster-sim.ts): production Raft driver,
// state machine, leader loop, worker, exec protocol and client API over simulated time, network
// and disk, with a random workload; the soak's task invariants checked after a heal.
//   npx tsx scripts/sim-cluster.ts --seeds 1000 [--start 1] [--steps 300]
//   SEED=42 npx tsx scripts/sim-cluster.ts [--steps 300] --trace      replays one seed exactly
//   --quiesce-steps N: the base of the hard bound on working off the backlog after the heal
//   (default 20,000; the bound adds twice what the backlog needs at a calm pace, see quiesceBound)
import { arg, checkFlags, seedList } from './lib/sim-args.js'
import { runClusterSeed, type ClusterSimResult } from '../test/sim/cluster-sim.js'
import { SimFailure } from '../test/sim/simulator.js'


checkFlags(['seeds', 'start', 'steps', 'trace', 'quiesce-steps'])
const steps = arg('steps', 300)
const quiesceSteps = process.argv.includes('--quiesce-steps') ? arg('quiesce-steps', 20_000) : undefined
const trace = process.argv.includes('--trace')
const seeds = seedList(100)

const t0 = process.hrtime.bigint()
let failed = 0
const failures: number[] = []
const totals = { steps: 0, quiesceSteps: 0, maxQuiesceSteps: 0, simulatedMs: 0, ops: 0, acknowledged: 0, tasks: 0, completed: 0, failedTasks: 0, clones: 0, attempts: 0, executions: 0, crashes: 0, partitions: 0, cancels: 0, workflows: 0, priorityPairsJudged: 0, leaders: 0, messages: 0 }
for (const seed of seeds) {
  let r: ClusterSimResult
  try {
    r = await runClusterSeed(seed, { steps, ...(quiesceSteps !== undefined ? { quiesceSteps } : {}), trace: trace ? (s: string) => { console.log(s) } : undefined })
  } catch (err) {
    failed++
    failures.push(seed)
    if (!(err instanceof SimFailure)) throw err
    console.error(`FAIL seed=${seed}: ${err.message}`)
    if (process.env.STACK !== undefined) console.error(err.stack)
    continue
  }
  if (seeds.length === 1) console.log(JSON.stringify(r, null, 1))
  else if ((seeds.indexOf(seed) + 1) % 100 === 0) console.error(`... ${seeds.indexOf(seed) + 1} seeds, ${failed} failed, ${((Number(process.hrtime.bigint() - t0) / 1e9)).toFixed(0)} s`)
  for (const k of Object.keys(totals) as Array<keyof typeof totals>) {
    if (k === 'maxQuiesceSteps') totals.maxQuiesceSteps = Math.max(totals.maxQuiesceSteps, r.quiesceSteps)
    else if (k === 'failedTasks') totals.failedTasks += r.failed
    else totals[k] += (r as unknown as Record<string, number>)[k] ?? 0
  }
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9
console.log(JSON.stringify({
  seeds: seeds.length,
  failedSeeds: failed,
  failures: failures.slice(0, 50),
  stepsPerSeed: steps,
  seconds: Number(secs.toFixed(1)),
  seedsPerMinute: Number((seeds.length / secs * 60).toFixed(1)),
  ...totals
}))
process.exitCode = failed > 0 ? 1 : 0
