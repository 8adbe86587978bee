// Command-line arguments shared by the simulators' runners (scripts/sim.ts, scripts/sim-cluster.ts).

/** the integer after --name, or dflt; exits 2 on a bad value */
export function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return dflt
  const v = Number(process.argv[i + 1])
  if (!Number.isInteger(v) || v < 0) { console.error(`--${name} must be a non-negative integer`); process.exit(2) }
  return v
}

/** exits 2 on a flag the runner does not know (a typo must not silently run other seeds) */
export function checkFlags (known: readonly string[]): void {
  for (const a of process.argv.slice(2)) {
    if (a.startsWith('--') && !known.includes(a.slice(2))) { console.error(`unknown flag ${a} (known: ${known.map(k => `--${k}`).join(' ')})`); process.exit(2) }
  }
}

/** SEED=n replays one seed; else --seeds N from --start S (default 1) */
export function seedList (defaultCount: number): number[] {
  const only = process.env.SEED
  if (only !== undefined && only !== '') return [Number(only)]
  const start = arg('start', 1)
  const count = arg('seeds', defaultCount)
  const seeds: number[] = []
  for (let s = start; s < start + count; s++) seeds.push(s)
  return seeds
}
