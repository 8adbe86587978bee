// Random fault and membership moves of a swarm simulation, shared by the reference simulation
// (simulator.ts, the pure core) and the production-driver one (driver-sim.ts). Each draws from the
// seed's rng in a fixed order, so a seed replays the same moves.
import type { ConfChange, NodeId } from '../../src/protocol/raft/types.js'
import { pick, type Rng } from './rng.js'

export interface Blockable { block: (from: NodeId, to: NodeId) => void }

/** A one-way cut (30 %) or a random two-sided partition of `ids`; returns what it did, for the trace. */
export function randomCut (rng: Rng, ids: NodeId[], net: Blockable): string | undefined {
  if (rng() < 0.3) {
    const a = pick(rng, ids); const b = pick(rng, ids)
    if (a === b) return undefined
    net.block(a, b)
    return `cut ${a}>${b} (one-way)`
  }
  const side = new Set(ids.filter(() => rng() < 0.5))
  for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) net.block(a, b)
  return `partition {${[...side].join(',')}}`
}

/**
 * A membership change the leader could propose: add a node never seen as a member as a learner,
 * promote a learner, or remove a voter (while more than two) or a learner. Undefined when none.
 */
export function randomConfChange (rng: Rng, st: { voters: NodeId[], learners: NodeId[] }, nodeIds: NodeId[], everMember: ReadonlySet<NodeId>): ConfChange | undefined {
  const members = new Set([...st.voters, ...st.learners])
  const spares = nodeIds.filter(id => !members.has(id) && !everMember.has(id))
  const options: ConfChange[] = []
  for (const id of spares) options.push({ type: 'addLearner', nodeId: id })
  for (const id of st.learners) options.push({ type: 'addVoter', nodeId: id })
  if (st.voters.length > 2) for (const id of st.voters) options.push({ type: 'removeNode', nodeId: id })
  for (const id of st.learners) options.push({ type: 'removeNode', nodeId: id })
  if (options.length === 0) return undefined
  return pick(rng, options)
}
