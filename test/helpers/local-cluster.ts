// Real nodes in this test process: real libp2p on 127.0.0.1, real sqlite files in a temp dir.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, type NodeOptions } from '../../src/node/node.js'
import type { ClusterNode } from '../../src/node/api-types.js'
import { eventually } from './eventually.js'

export interface LocalCluster {
  nodes: ClusterNode[]
  dir: string
  leader (): ClusterNode
  followers (): ClusterNode[]
  add (opts?: Partial<NodeOptions>): Promise<ClusterNode>
  stop (): Promise<void>
}

export const base: Partial<NodeOptions> = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  mdns: false,
  logLevel: (process.env.RC_TEST_LOG as NodeOptions['logLevel']) ?? 'silent',
  api: false,
  tickMs: 50,
  electionTicks: 10
}

export function addrsOf (n: ClusterNode): string[] {
  return n.multiaddrs().map(a => a.includes('/p2p/') ? a : `${a}/p2p/${n.id}`)
}

/** Start n nodes (the first, then the rest bootstrapped to it) and wait for one agreed leader. */
export async function startLocalCluster (n: number, per: (i: number) => Partial<NodeOptions> = () => ({}), common: Partial<NodeOptions> = {}): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'rc-test-'))
  const nodes: ClusterNode[] = []
  const mk = (i: number, extra: Partial<NodeOptions>): NodeOptions => ({
    ...base, bootstrapExpect: n, ...common, name: `n${i + 1}`, dataDir: join(dir, `n${i + 1}`), ...per(i), ...extra
  })
  nodes.push(await startNode(mk(0, {})))
  const seed = addrsOf(nodes[0]!)
  nodes.push(...await Promise.all(Array.from({ length: n - 1 }, (_, k) => startNode(mk(k + 1, { bootstrap: seed })))))
  const cluster: LocalCluster = {
    nodes,
    dir,
    leader: () => {
      const l = nodes.find(x => x.raftStatus().role === 'leader')
      if (l === undefined) throw new Error('no leader')
      return l
    },
    followers: () => nodes.filter(x => x.raftStatus().role !== 'leader'),
    add: async (opts = {}) => {
      const node = await startNode(mk(nodes.length, { bootstrap: seed, bootstrapExpect: 1, ...opts }))
      nodes.push(node)
      return node
    },
    stop: async () => {
      await Promise.all(nodes.map(async x => { await x.stop().catch(() => {}) }))
      rmSync(dir, { recursive: true, force: true })
    }
  }
  await waitForAgreedLeader(nodes, 30_000)
  return cluster
}

export async function waitForAgreedLeader (nodes: ClusterNode[], timeoutMs = 20_000): Promise<ClusterNode> {
  return await eventually(() => {
    const ids = nodes.map(x => x.raftStatus().leaderId)
    if (ids[0] === null || ids[0] === undefined || !ids.every(id => id === ids[0])) return false
    return nodes.find(x => x.id === ids[0]) ?? false
  }, { timeoutMs, message: 'leader election' }) as ClusterNode
}

/** all nodes see every other node's bid (so the scheduler can use them) */
export async function waitForBids (nodes: ClusterNode[], timeoutMs = 15_000): Promise<void> {
  await eventually(async () => {
    for (const x of nodes) if ((await x.nodes()).filter(i => i.alive).length < nodes.length) return false
    return true
  }, { timeoutMs, message: 'bids' })
}
