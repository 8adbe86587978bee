// An optional fault for the production-driver simulation (off by default): a disk that lied about
// fsync. On a restart, a node may find its log shorter than what it had synced — and acknowledged —
// as the soak's "data dir copy that lost recent writes" (seed 45) does to a real node. The leader
// must notice (Progress.maybeLostTail) and catch that node up.
//
// A voter whose acknowledged entries vanish can break commitment safety by itself (its
// acknowledgement may be what committed them), and the checkers would then rightly fail. So a lie
// only takes entries that a majority of every configuration any node holds still has on disk without
// the liar: the checkers keep holding, and what is tested is that the liar catches up.
//   npx tsx scripts/sim.ts --lying-disk --seeds 500 --steps 1500
import type { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import type { NodeId } from '../../src/protocol/raft/types.js'
import type { DriverNode } from './driver-node.js'
import { CATCH_UP_BOUND_TICKS, SimFailure } from './simulator.js'
import { DriverSimulation, type DriverSimResult } from './driver-sim.js'
import { mulberry32, randInt, type Rng } from './rng.js'

export interface LyingDiskStats {
  /** restarts on a disk that lost synced entries */
  lies: number
  /** synced entries lost in all */
  entriesLost: number
}

/** Make a share of the restarts in `sim` lose synced entries (`rate` per restart, drawn from its own rng). */
export function installLyingDisk (sim: DriverSimulation, rate: number): LyingDiskStats {
  const stats: LyingDiskStats = { lies: 0, entriesLost: 0 }
  // its own stream, so the simulation's own draws stay as they were
  const rng = mulberry32(sim.seed * 7919 + 17)
  for (const n of sim.nodes) {
    const restart = n.restart.bind(n)
    n.restart = (keep: number) => {
      restart(keep, image => {
        if (rng() >= rate) return image
        const lied = lie(rng, sim.nodes, n, image)
        if (lied.lastIndex() < image.lastIndex()) { stats.lies++; stats.entriesLost += image.lastIndex() - lied.lastIndex() }
        return lied
      })
    }
  }
  return stats
}

/** the image with a tail cut off that others still hold on a majority; the image itself if none can go */
function lie (rng: Rng, nodes: readonly DriverNode[], liar: DriverNode, image: MemoryStorage): MemoryStorage {
  const last = image.lastIndex()
  const floor = Math.max(image.snapshot().meta.index, image.firstIndex() - 1)
  const configs = nodes.map(n => n.raw.raft.voters).filter(v => v.size > 0) // a spare never added has none
  let keepFrom = last // entries above keepFrom may go
  while (keepFrom > floor && heldWithout(nodes, configs, liar.id, keepFrom, image.term(keepFrom))) keepFrom--
  if (keepFrom >= last) return image
  return image.crashCopy(randInt(rng, keepFrom, last))
}

/** entry (index, term) is on the disks of a majority of each configuration, not counting `liar` */
function heldWithout (nodes: readonly DriverNode[], configs: ReadonlyArray<ReadonlySet<NodeId>>, liar: NodeId, index: number, term: number): boolean {
  return configs.every(voters => {
    let held = 0
    for (const n of nodes) if (n.id !== liar && voters.has(n.id) && holds(n.storage, index, term)) held++
    return held >= Math.floor(voters.size / 2) + 1
  })
}

function holds (st: MemoryStorage, index: number, term: number): boolean {
  if (index <= st.snapshot().meta.index) return true // in its snapshot: committed, so the same entry
  if (index < st.firstIndex() || index > st.lastIndex()) return false
  return st.term(index) === term
}

/** runDriverSeed (driver-sim.ts) with the lying disk on */
export async function runLyingDiskSeed (seed: number, steps: number, rate = 0.5, trace?: (s: string) => void): Promise<DriverSimResult & LyingDiskStats> {
  const sim = new DriverSimulation(seed, trace)
  const stats = installLyingDisk(sim, rate)
  try {
    for (let i = 0; i < steps; i++) await sim.runStep(true)
    const heal = await sim.converge(CATCH_UP_BOUND_TICKS)
    sim.checker.checkLogMatching(sim.nodes)
    return { ...sim.result(heal.commitTicks, heal.catchUpTicks), ...stats }
  } catch (err) {
    throw new SimFailure(seed, sim.step, err as Error, `npx tsx scripts/sim.ts --lying-disk --steps ${steps}`)
  } finally {
    sim.stop()
  }
}
