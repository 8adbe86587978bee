// Seeded PRNG for the simulator (mulberry32): one seed drives every random choice of a run.
// the same generator the pure core uses (src/sched/rng.ts), plus two helpers for drawing
export { mulberry32, type Rng } from '../../src/sched/rng.js'
import type { Rng } from '../../src/sched/rng.js'

export function randInt (rng: Rng, lo: number, hiExclusive: number): number {
  return lo + Math.floor(rng() * (hiExclusive - lo))
}

export function pick<T> (rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)]
}
