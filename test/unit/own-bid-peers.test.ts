// ownBid passes on connected peers (DeviceBid.peers) without ever pushing the bid over its wire cap.
import assert from 'node:assert/strict'
import { ownBid } from '../../src/node/gossip/own-bid.js'
import { sampleCapabilities } from '../../src/node/system/sample.js'
import { encodeBid, decodeBid } from '../../src/node/gossip/bid-wire.js'
import type { DeviceBid } from '../../src/sched/types.js'

describe('ownBid: passed-on peers', () => {
  it('carries at most 16 peers with at most 3 short addresses each; the bid still encodes and decodes', () => {
    const longAddr = '/dns4/' + 'x'.repeat(400) + '/tcp/1'
    const peers = Array.from({ length: 40 }, (_, i) => ({ id: `12D3KooW${String(i).padStart(44, 'A')}`, addrs: [longAddr, `/ip4/10.0.0.${i}/tcp/4001`, `/ip4/10.0.1.${i}/tcp/4001`, `/ip4/10.0.2.${i}/tcp/4001`, `/ip4/10.0.3.${i}/tcp/4001`] }))
    peers.push({ id: '12D3KooWonlylong', addrs: [longAddr] })
    const make = ownBid({
      name: 'n', caps: sampleCapabilities(), permissions: [],
      sampleLoad: () => ({ cpuUsage: 1, memoryUsage: 1, memoryUsedGb: 1 }),
      executor: { capabilities: () => ({ taskTypes: ['echo'], sandbox: { network: false, memory: false, cpu: false, filesystem: true } }), activeCount: 0, maxConcurrentTasks: 4 } as never,
      monitor: { slots: (n: number) => n, status: () => ({ state: 'active' }), bidBattery: () => undefined } as never,
      raft: { isLeader: true, member: true, leaderId: null, term: 1 },
      latencyMs: () => 0, apiUrl: () => undefined,
      multiaddrs: () => Array.from({ length: 8 }, () => '/dns4/' + 'y'.repeat(490) + '/tcp/1'),
      peers: () => peers,
      now: () => 0
    })
    const fields = make()
    assert.equal(fields.peers?.length, 16)
    for (const p of fields.peers!) {
      assert.ok(p.addrs.length >= 1 && p.addrs.length <= 3)
      assert.ok(p.addrs.every(a => a.length <= 128))
    }
    assert.ok(!fields.peers!.some(p => p.id === '12D3KooWonlylong'), 'a peer with only over-long addresses is left out')
    const bid = { ...fields, nodeId: '12D3KooWself', incarnation: 1, seq: 1 } as DeviceBid
    const bytes = encodeBid(bid)
    assert.ok(bytes.byteLength <= 16 * 1024, `${bytes.byteLength} bytes`)
    assert.deepEqual((decodeBid(bytes) as DeviceBid).peers, fields.peers)
  })
})
