// A new cluster elects its first leader at once, whichever founder formed it. Nodes started one
// after another see the first one's bid say "member" and join it instead of forming, so the one
// that formed may not be the first founder by id — the founder that used to campaign alone. With
// an election timeout far beyond the test's wait, only the founders' own campaign can elect.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreatePeerKey } from '../../src/node/host/index.js'
import { startNode } from '../../src/node/node.js'
import type { ClusterNode } from '../../src/node/api-types.js'
import { addrsOf, base, waitForAgreedLeader } from '../helpers/local-cluster.js'

describe('first leader of a new cluster', function () {
  this.timeout(60_000)
  let dir: string
  const nodes: ClusterNode[] = []
  after(async () => {
    await Promise.all(nodes.map(async n => { await n.stop().catch(() => {}) }))
    rmSync(dir, { recursive: true, force: true })
  })

  it('is elected without an election timeout when the node that formed is not the first founder by id', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rc-founders-'))
    // three identities; the node started first (the one that forms) gets the one that sorts last
    const keys = await Promise.all([0, 1, 2].map(async i => {
      const d = join(dir, `k${i}`); mkdirSync(d)
      return { dir: d, id: peerIdFromPrivateKey(await loadOrCreatePeerKey(d)).toString() }
    }))
    keys.sort((a, b) => (a.id < b.id ? 1 : -1))
    // 20-40 s of election timeout: a leader within 10 s can only come from a founder's campaign
    const opts = { ...base, tickMs: 50, electionTicks: 400, bootstrapExpect: 3 }
    nodes.push(await startNode({ ...opts, name: 'n1', dataDir: keys[0]!.dir }))
    const seed = addrsOf(nodes[0]!)
    nodes.push(...await Promise.all([1, 2].map(async i => await startNode({ ...opts, name: `n${i + 1}`, dataDir: keys[i]!.dir, bootstrap: seed }))))
    assert.equal(nodes[0]!.id, keys[0]!.id)
    const leader = await waitForAgreedLeader(nodes, 10_000)
    assert.ok(nodes.includes(leader))
    assert.equal(leader.raftStatus().voters.length, 3, 'all three are voters of the one cluster')
  })
})
