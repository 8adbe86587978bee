// Long randomized fault soak (issue 11): real node processes on loopback, a recorded history, a seeded
// nemesis and a checker (test/soak). One seed drives the fault schedule and the workload; a failing run
// prints its seed and history file, and `--seed N` replays it.
//
//   npm run build && npx tsx scripts/soak-faults.ts --seeds 10 --minutes 30
//   npx tsx scripts/soak-faults.ts --seed 1234 --keep        # replay one seed, keep its run dir
//   SEED=1234 npx tsx scripts/soak-faults.ts                  # same
// Options: --seeds N (runs, seeds first..first+N-1), --first-seed S, --minutes M (total budget; stops
// starting runs after it), --fault-seconds S per run (default 40), --nodes 3..5 (default: 3-5 by seed),
// --faults process,net,disk (default process,net,disk: net and disk when the machine allows),
// --kinds k1,k2 (only these fault kinds, e.g. kill-new-leader,disk-full),
// --keep, --dir DIR (parent of run dirs).
import { parseArgs } from 'node:util'
import { liveClusters, runSoak, type SoakResult } from '../test/soak/run.js'
import { faultKinds } from '../test/soak/faults.js'

// the checks that cost time, as in the test runs (test/check-invariants.mjs): the node processes inherit them
process.env.RC_CHECK_INVARIANTS ??= '1'

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      seed: { type: 'string' },
      'first-seed': { type: 'string' },
      minutes: { type: 'string' },
      'fault-seconds': { type: 'string' },
      nodes: { type: 'string' },
      faults: { type: 'string' },
      kinds: { type: 'string' },
      keep: { type: 'boolean' },
      dir: { type: 'string' }
    }
  })
  const one = values.seed ?? process.env.SEED
  const first = one !== undefined ? Number(one) : Number(values['first-seed'] ?? (Date.now() % 100_000))
  const count = one !== undefined ? 1 : Number(values.seeds ?? 5)
  const budgetMs = Number(values.minutes ?? 60) * 60_000
  const faultMs = Number(values['fault-seconds'] ?? 40) * 1000
  const groups = (values.faults ?? 'process,net,disk').split(',')
  const t0 = Date.now()
  const results: SoakResult[] = []
  for (let i = 0; i < count && Date.now() - t0 < budgetMs; i++) {
    const seed = first + i
    const nodes = values.nodes !== undefined ? Number(values.nodes) : 3 + (seed % 3)
    const fk = await faultKinds(groups, nodes, seed)
    const { extra, skipped, lab, heal, tmpfsNode, cleanup } = fk
    // --kinds a,b: only these fault kinds (to replay or study one)
    const only = values.kinds?.split(',')
    const kinds = only === undefined ? fk.kinds : fk.kinds.filter(k => only.includes(k))
    for (const s of skipped) console.log(`skipped ${s}`)
    try {
      results.push(await runSoak({ seed, nodes, faultMs, kinds, extra, heal, ...(lab !== undefined ? { lab } : {}), ...(tmpfsNode !== undefined ? { tmpfsNode } : {}), keep: values.keep === true, ...(values.dir !== undefined ? { baseDir: values.dir } : {}) }))
    } finally { cleanup() }
  }
  // a run that could not even start its nodes (an overloaded machine) proves nothing either way
  const failed = results.filter(r => !r.ok && r.error === undefined)
  const broken = results.filter(r => r.error !== undefined)
  if (broken.length > 0) console.log(`inconclusive (the run itself failed): ${broken.map(r => `${r.seed} (${r.runDir})`).join(', ')}`)
  const faults: Record<string, number> = {}
  for (const r of results) for (const [k, n] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + n
  const tasks = results.reduce((s, r) => s + r.report.stats.acknowledged, 0)
  console.log(`\n${results.length} seeds in ${Math.round((Date.now() - t0) / 60_000)} min, ${tasks} acknowledged tasks checked, faults ${JSON.stringify(faults)}`)
  console.log(failed.length === 0 ? 'no invariant violations' : `FAILED seeds: ${failed.map(r => `${r.seed} (${r.historyPath})`).join(', ')}`)
  return failed.length === 0 && broken.length === 0 ? 0 : 1
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void Promise.all([...liveClusters].map(async c => { await c.killAll() })).finally(() => { process.exit(130) })
  })
}
main().then(code => { process.exit(code) }, err => { console.error(err); process.exit(1) })
