// Injected randomness. The core never calls Math.random: callers pass an Rng, so a simulation seed
// replays exactly. mulberry32 is small, fast and good enough for jitter and ids (not for secrets).

/** Returns a float in [0, 1). */
export type Rng = () => number

/** Deterministic PRNG from a 32-bit seed. */
export function mulberry32 (seed: number): Rng {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** FNV-1a 32-bit hash of a string: derive a stable seed, e.g. from `${taskId}:${attempt}` for jitter. */
export function hashSeed (str: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
