// A cluster whose messages are delivered immediately and in order (etcd's raft_test `network`):
// for unit tests that drive a scenario step by step. Filters cut links (one-way) or isolate nodes.
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import type { Message, NodeId } from '../../src/protocol/raft/types.js'
import { SimNode, type NodeObserver, type NodeOptions } from './node.js'
import { mulberry32 } from './rng.js'

export const DEFAULT_OPTS: NodeOptions = {
  electionTick: 10, heartbeatTick: 1, preVote: true, checkQuorum: true,
  maxSizePerMsg: 1024 * 1024, maxInflightMsgs: 256, snapshotEvery: 0, compactLag: 0, maxUncommittedEntries: 0
}

export class InstantCluster {
  readonly nodes = new Map<NodeId, SimNode>()
  /** blocked directed links "from>to" */
  private readonly cut = new Set<string>()
  /** every message that was delivered, for assertions */
  readonly delivered: Message[] = []
  /** optional per-message filter: return false to drop */
  filter: ((m: Message) => boolean) | undefined
  /** whether the "transport" reports snapshot delivery to the leader (reportSnapshot) */
  reportSnapshots = true

  constructor (voters: NodeId[], opts: Partial<NodeOptions> = {}, seed = 1, readonly obs: NodeObserver = {}, extra: NodeId[] = []) {
    const o = { ...DEFAULT_OPTS, ...opts }
    let i = 0
    for (const id of voters) this.nodes.set(id, new SimNode(id, new MemoryStorage({ conf: { voters, learners: [] }, bootstrapIndex: 1 }), o, mulberry32(seed + i++), obs))
    for (const id of extra) this.nodes.set(id, new SimNode(id, new MemoryStorage(), o, mulberry32(seed + i++), obs))
  }

  node (id: NodeId): SimNode {
    const n = this.nodes.get(id)
    if (n === undefined) throw new Error(`no node ${id}`)
    return n
  }

  cutLink (from: NodeId, to: NodeId): void { this.cut.add(`${from}>${to}`) }
  isolate (id: NodeId): void {
    for (const o of this.nodes.keys()) if (o !== id) { this.cutLink(id, o); this.cutLink(o, id) }
  }

  heal (): void { this.cut.clear(); this.filter = undefined }

  /** Drain every node and deliver messages until quiet (bounded). */
  settle (maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      const out: Message[] = []
      for (const n of this.nodes.values()) n.drain(m => out.push(m))
      if (out.length === 0) return
      for (const m of out) this.deliver(m)
    }
    throw new Error(`cluster did not settle in ${maxRounds} rounds`)
  }

  private deliver (m: Message): void {
    const to = this.nodes.get(m.to)
    const ok = to !== undefined && to.up && !this.cut.has(`${m.from}>${m.to}`) && (this.filter === undefined || this.filter(m))
    // a transport reports whether a snapshot arrived; the leader waits for this report
    if (m.type === 'snap' && this.reportSnapshots) this.node(m.from).raw.reportSnapshot(m.to, ok)
    if (!ok || to === undefined) return
    this.delivered.push(m)
    to.raw.step(m)
  }

  tick (ids: Iterable<NodeId> = this.nodes.keys()): void {
    for (const id of ids) { const n = this.node(id); if (n.up) n.raw.tick() }
    this.settle()
  }

  /** id campaigns now; messages are delivered until the cluster is quiet */
  elect (id: NodeId): void {
    this.node(id).raw.campaign()
    this.settle()
  }

  leaders (): SimNode[] {
    return [...this.nodes.values()].filter(n => n.up && n.raw.raft.role === 'leader')
  }

  propose (id: NodeId, s: string): void {
    this.node(id).raw.propose(new TextEncoder().encode(s))
    this.settle()
  }
}
