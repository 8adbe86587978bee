// e2e helper: real nodes (startNode) on 127.0.0.1, each with its own temp data dir, bootstrapped to the
// first; mDNS off so parallel test runs never meet. Also a client per node from its data dir.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode } from '../../src/node/node.js'
import type { ClusterNode } from '../../src/node/api-types.js'
import { ApiClient } from '../../src/node/api/client.js'
import { eventually } from '../helpers/eventually.js'

export interface TestCluster {
  nodes: ClusterNode[]
  clients: ApiClient[]
  dataDirs: string[]
  stop (): Promise<void>
}

type StartOptions = Parameters<typeof startNode>[0]

export function withP2p (node: ClusterNode): string[] {
  return node.multiaddrs().map(a => a.includes('/p2p/') ? a : `${a}/p2p/${node.id}`)
}

/** Starts `size` nodes and waits until every node sees all of them and a leader. */
export async function startCluster (size: number, extra: Partial<NonNullable<StartOptions>> = {}): Promise<TestCluster> {
  const nodes: ClusterNode[] = []
  const dataDirs: string[] = []
  const stop = async (): Promise<void> => {
    await Promise.allSettled(nodes.map(async n => await n.stop()))
    for (const d of dataDirs) rmSync(d, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < size; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), `rc-e2e-${i}-`))
      dataDirs.push(dataDir)
      nodes.push(await startNode({
        dataDir,
        name: `node-${i}`,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: i === 0 ? [] : withP2p(nodes[0]),
        mdns: false,
        api: { host: '127.0.0.1', port: 0 },
        logLevel: 'silent',
        ...extra
      }))
    }
    await eventually(async () => {
      for (const n of nodes) {
        const seen = await n.nodes()
        if (seen.filter(d => d.alive).length < size || !seen.some(d => d.isLeader)) return false
      }
      return true
    }, { timeoutMs: 30_000, intervalMs: 100, message: `${size}-node cluster forms` })
    const clients = await Promise.all(dataDirs.map(async d => await ApiClient.fromDataDir(d)))
    return { nodes, clients, dataDirs, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
