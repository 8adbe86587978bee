import assert from 'node:assert/strict'
import { encode } from '../../src/protocol/codec.js'
import { loadTopic } from '../../src/protocol/ids.js'
import { BidGossip, type BidFields } from '../../src/node/gossip/bids.js'
import { silentLogger } from '../../src/node/host/log.js'
import type { Host } from '../../src/node/host/host.js'
import type { DeviceBid } from '../../src/sched/types.js'
import { HostPool } from './host-fixtures.js'
import { eventually } from '../helpers/eventually.js'

function fields (over: Partial<BidFields> = {}): BidFields {
  return {
    name: 'dev', role: 'compute', platform: 'linux', arch: 'x64', cpuCores: 4, memoryGb: 8, storageGb: 100,
    gpu: false, sensors: [], internet: true, bandwidthMbps: 100, taskTypes: ['echo'], permissions: [],
    sandbox: { network: false, memory: true, cpu: true, filesystem: false },
    cpuUsage: 10, memoryUsage: 20, memoryUsedGb: 1.6, activeTasks: 0, maxConcurrentTasks: 4, latencyMs: 0,
    ...over
  }
}

describe('BidGossip (real gossipsub on loopback)', function () {
  this.timeout(30_000)
  const pool = new HostPool()
  const gossips: BidGossip[] = []

  async function gossip (h: Host, src: () => BidFields, over: { intervalMs?: number, idleIntervalMs?: number, ttlMs?: number, minGapMs?: number } = {}): Promise<BidGossip> {
    const g = new BidGossip({ host: h, clusterName: pool.clusterName, source: src, log: silentLogger, intervalMs: 200, ...over })
    await g.start()
    gossips.push(g)
    return g
  }

  afterEach(async () => {
    for (const g of gossips.splice(0)) await g.stop()
    await pool.stopAll()
  })

  async function trio (): Promise<Host[]> {
    const a = await pool.host()
    const b = await pool.host({ bootstrap: [a.multiaddrs()[0]] })
    const c = await pool.host({ bootstrap: [a.multiaddrs()[0]] })
    await eventually(() => a.connectedPeers().length === 2)
    return [a, b, c]
  }

  it('propagates bids to every node, freshest wins, poke publishes a significant change at once', async () => {
    const [a, b, c] = await trio()
    let load = fields({ name: 'c' })
    const ga = await gossip(a, () => fields({ name: 'a' }))
    const gb = await gossip(b, () => fields({ name: 'b' }))
    const gc = await gossip(c, () => load, { minGapMs: 0 })
    // b and c are not connected to each other: their bids reach each other through a's mesh
    await eventually(() => [ga, gb, gc].every(g => g.bids().length === 3), { timeoutMs: 10_000 })
    assert.deepEqual(ga.bids().map(x => x.name).sort(), ['a', 'b', 'c'])
    assert.equal(gb.get(c.peerId)?.name, 'c')
    assert.ok((gb.lastSeen(a.peerId) ?? 0) > 0)

    const seen: DeviceBid[] = []
    ga.onBid(bid => { if (bid.nodeId === c.peerId) seen.push(bid) })
    load = fields({ name: 'c', activeTasks: 3 })
    const published = gc.stats.published
    gc.poke()
    assert.equal(gc.stats.published, published + 1, 'a significant change is published at once')
    await eventually(() => ga.get(c.peerId)?.activeTasks === 3 && gb.get(c.peerId)?.activeTasks === 3, { timeoutMs: 3000 })
    assert.ok(seen.length >= 1 && seen.every(x => x.activeTasks === 3))
    // an insignificant change waits for the heartbeat
    const before = gc.stats.published
    load = fields({ name: 'c', activeTasks: 3, cpuUsage: 12 })
    gc.poke()
    assert.equal(gc.stats.published, before)
  })

  it('bids reach a peer that connects after gossip started, without waiting for a refresh (published when it subscribes, and once more shortly after)', async () => {
    // No refresh within the test: a bid gets across only through the publish on the peer's
    // subscription and its resend, as when fresh nodes start together and decide who forms.
    const slow = { intervalMs: 60_000 }
    for (let round = 0; round < 6; round++) {
      const a = await pool.host()
      const ga = await gossip(a, () => fields({ name: 'a' }), slow)
      const b = await pool.host({ bootstrap: [a.multiaddrs()[0]] })
      const gb = await gossip(b, () => fields({ name: 'b' }), slow)
      await eventually(() => ga.bids().length === 2 && gb.bids().length === 2, { timeoutMs: 3000 }).catch((err: Error) => {
        throw new Error(`round ${round}: bids known ${ga.bids().length} and ${gb.bids().length}: ${err.message}`)
      })
      for (const g of gossips.splice(0)) await g.stop()
      await pool.stopAll()
    }
  })

  it('rejects malformed, oversized and spoofed bids in the validator: they never reach the table', async () => {
    const [a, b, c] = await trio()
    const ga = await gossip(a, () => fields({ name: 'a' }))
    // b is hostile: it publishes raw messages on the topic without a BidGossip
    const topic = loadTopic(pool.clusterName)
    const bps = b.libp2p.services.pubsub
    bps.subscribe(topic)
    await eventually(() => bps.getSubscribers(topic).some(p => p.toString() === a.peerId), { timeoutMs: 5000 })
    const bad: Array<[string, Uint8Array]> = [
      ['garbage', new Uint8Array([0xc1, 0xff, 0x00])],
      ['wrong shape', encode('bid', { nodeId: b.peerId, hello: 1 })],
      ['out of range', encode('bid', { ...fields({ cpuUsage: 900 }), nodeId: b.peerId, incarnation: 1, seq: 1 })],
      ['bad optional field', encode('bid', { ...fields(), cluster: { member: 'yes', leaderId: null, term: 1 }, nodeId: b.peerId, incarnation: 1, seq: 1 })],
      ['spoofed nodeId', encode('bid', { ...fields({ name: 'spoof' }), nodeId: c.peerId, incarnation: 1, seq: 1 })],
      ['oversized', encode('bid', { ...fields({ name: 'big', sensors: Array.from({ length: 200 }, (_, i) => 'x'.repeat(200) + i) }), nodeId: b.peerId, incarnation: 1, seq: 1 }, 1 << 20)]
    ]
    for (const [, data] of bad) await bps.publish(topic, data)
    // then one good bid from the same peer on the same stream: once it is in, the bad ones were processed
    await bps.publish(topic, encode('bid', { ...fields({ name: 'honest-b' }), nodeId: b.peerId, incarnation: 1, seq: 1 }))
    await eventually(() => ga.get(b.peerId)?.name === 'honest-b', { timeoutMs: 5000 })
    assert.equal(ga.stats.rejected, bad.length)
    assert.equal(ga.get(c.peerId), undefined, 'spoofed bid for c not stored')
    assert.deepEqual(ga.bids().map(x => x.name).sort(), ['a', 'honest-b'])
  })

  it('ignores stale bids and expires silent nodes after the TTL', async () => {
    const [a, b] = await trio()
    const ga = await gossip(a, () => fields({ name: 'a' }), { ttlMs: 600, intervalMs: 100 })
    const topic = loadTopic(pool.clusterName)
    const bps = b.libp2p.services.pubsub
    bps.subscribe(topic)
    await eventually(() => bps.getSubscribers(topic).some(p => p.toString() === a.peerId), { timeoutMs: 5000 })
    const expired: string[] = []
    ga.onExpire(id => expired.push(id))
    await bps.publish(topic, encode('bid', { ...fields({ name: 'new' }), nodeId: b.peerId, incarnation: 2, seq: 1 }))
    await bps.publish(topic, encode('bid', { ...fields({ name: 'old-incarnation' }), nodeId: b.peerId, incarnation: 1, seq: 99 }))
    await bps.publish(topic, encode('bid', { ...fields({ name: 'newer' }), nodeId: b.peerId, incarnation: 2, seq: 2 }))
    await eventually(() => ga.get(b.peerId)?.name === 'newer', { timeoutMs: 5000 })
    assert.equal(ga.stats.ignored >= 1, true)
    await eventually(() => expired.includes(b.peerId), { timeoutMs: 3000 })
    assert.equal(ga.get(b.peerId), undefined)
    assert.ok(ga.get(a.peerId) != null, 'own bid never expires')
  })

  it('a throwing or invalid bid source is logged, never thrown from the timer', async () => {
    const a = await pool.host()
    let mode: 'throw' | 'invalid' | 'ok' = 'throw'
    const g = await gossip(a, () => {
      if (mode === 'throw') throw new Error('sensor read failed')
      return mode === 'invalid' ? fields({ cpuUsage: -5 }) : fields({ name: 'fine' })
    }, { intervalMs: 50 })
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(g.stats.published, 0)
    mode = 'invalid'
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(g.stats.published, 0)
    mode = 'ok'
    await eventually(() => g.get(a.peerId)?.name === 'fine')
  })

  it('an idle member refreshes its bid at the idle pace; a busy, fresh or draining node and a significant change at the busy pace', async () => {
    const a = await pool.host()
    const member = { member: true, leaderId: null, term: 1 }
    let f = fields({ cluster: member })
    const g = await gossip(a, () => f, { intervalMs: 50, idleIntervalMs: 600 })
    const published = async (ms: number): Promise<number> => {
      const p0 = g.stats.published
      await new Promise(resolve => setTimeout(resolve, ms))
      return g.stats.published - p0
    }
    // idle member: about 2 refreshes in 1.2 s (20 at the busy pace)
    const idle = await published(1200)
    assert.ok(idle >= 1 && idle <= 4, `idle member published ${idle} times in 1.2 s`)
    assert.equal(g.extraSilenceMs({ ...f, nodeId: a.peerId, incarnation: 1, seq: 1 }), 550)
    // a task starts: significant, published at the next tick, then the busy pace
    f = fields({ cluster: member, activeTasks: 1 })
    await eventually(() => g.get(a.peerId)?.activeTasks === 1, { timeoutMs: 500 })
    assert.ok(await published(600) >= 5, 'a busy node refreshes at the busy pace')
    assert.equal(g.extraSilenceMs(g.get(a.peerId)!), 0)
    // a fresh node (not a member) looking for its cluster, and a draining one, also at the busy pace
    for (const over of [{ cluster: { ...member, member: false } }, { cluster: member, device: { state: 'draining' as const } }]) {
      f = fields(over)
      await published(100)
      assert.ok(await published(600) >= 5, `busy pace for ${JSON.stringify(over)}`)
    }
    // back to idle: a small load change is not significant and waits for the idle refresh
    f = fields({ cluster: member })
    await published(700)
    f = fields({ cluster: member, cpuUsage: 12 })
    assert.ok(await published(300) <= 1)
  })
})
