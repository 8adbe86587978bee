// The real id source for Task, TaskBatch and TaskChain. src/sched cannot make ids on its own (no
// clock, no randomness there); this module, imported by the package entry (src/index.ts) and by
// the node, installs one the moment the package is imported, so `new Task(...)` works with or
// without a node.
//
// Unique across processes: each id is 48 bits of millisecond time and 80 bits from the OS CSPRNG
// (ULID). Two processes that start an id in the same millisecond collide with probability 2^-80.
// Monotonic within a process: ids made in the same millisecond (or after the clock steps back)
// increment the last one (ULID monotonic mode), so they sort in creation order.
import { webcrypto } from 'node:crypto'
import { monotonicTaskIds } from '../sched/ids.js'
import type { Rng } from '../sched/rng.js'
import { Task, unsetIdGenerator } from '../sched/task.js'

/** CSPRNG floats in [0, 1), buffered: one getRandomValues call per 256 draws (an id takes 16). */
export function cryptoRng (): Rng {
  const buf = new Uint32Array(256)
  let i = buf.length
  return () => {
    if (i >= buf.length) {
      webcrypto.getRandomValues(buf)
      i = 0
    }
    return buf[i++]! / 2 ** 32
  }
}

/** A fresh, real id generator (Date.now, CSPRNG). */
export function defaultTaskIds (): () => string {
  return monotonicTaskIds(Date.now, cryptoRng())
}

/** Installs the real generator unless one is set already (a test's or the simulator's wins). */
export function installDefaultTaskIds (): void {
  if (Task.idGenerator === unsetIdGenerator) Task.idGenerator = defaultTaskIds()
}

installDefaultTaskIds()
