import assert from 'node:assert/strict'
import { HostPool } from './host-fixtures.js'
import { eventually } from '../helpers/eventually.js'

describe('host: discovery and bootstrap (real libp2p on loopback)', function () {
  this.timeout(30_000)
  const pool = new HostPool()
  afterEach(async () => { await pool.stopAll() })

  it('three hosts with mDNS and no bootstrap find and connect to each other', async () => {
    const hosts = await Promise.all([0, 1, 2].map(async () => await pool.host({ mdns: true, mdnsIntervalMs: 500 })))
    await eventually(() => hosts.every(h => h.connectedPeers().length === 2), { timeoutMs: 10_000 })
    for (const h of hosts) {
      assert.deepEqual(h.connectedPeers().sort(), hosts.filter(o => o !== h).map(o => o.peerId).sort())
    }
  })

  it('mDNS of another cluster name is not even dialed', async () => {
    const a = await pool.host({ mdns: true, mdnsIntervalMs: 300, clusterName: `${pool.clusterName}-x` })
    const b = await pool.host({ mdns: true, mdnsIntervalMs: 300, clusterName: `${pool.clusterName}-y` })
    const c = await pool.host({ mdns: true, mdnsIntervalMs: 300, clusterName: `${pool.clusterName}-y` })
    await eventually(() => b.connectedPeers().includes(c.peerId), { timeoutMs: 10_000 })
    // b and c found each other; give a a few more query rounds, it must stay alone
    await new Promise(resolve => setTimeout(resolve, 1200))
    assert.deepEqual(a.connectedPeers(), [])
    assert.ok(!b.connectedPeers().includes(a.peerId))
  })

  it('dials bootstrap addresses at start, reports peer events, and redials after the peer restarts', async () => {
    const dir = pool.dataDir()
    const a = await pool.host({ dataDir: dir })
    const addr = a.multiaddrs()[0] // /ip4/127.0.0.1/tcp/<port>/p2p/<id>
    const b = await pool.host({ bootstrap: [addr] })
    const events: string[] = []
    b.onPeer((id, ev) => events.push(`${ev}:${id}`))
    await eventually(() => b.connectedPeers().includes(a.peerId) && a.connectedPeers().includes(b.peerId))

    await a.stop()
    await eventually(() => events.includes(`disconnect:${a.peerId}`))
    // same identity, same port: b's redial loop must reconnect without help
    const port = addr.split('/')[4]
    const a2 = await pool.host({ dataDir: dir, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    assert.equal(a2.peerId, a.peerId)
    await eventually(() => b.connectedPeers().includes(a.peerId), { timeoutMs: 10_000 })
    assert.ok(events.includes(`connect:${a.peerId}`))
  })

  it('dial() accepts a multiaddr or a known peer id, and refuses junk with a typed error', async () => {
    const a = await pool.host()
    const b = await pool.host()
    await b.dial(a.multiaddrs()[0])
    assert.ok(b.connectedPeers().includes(a.peerId))
    const c = await pool.host({ bootstrap: [a.multiaddrs()[0]] })
    await eventually(() => c.connectedPeers().includes(a.peerId))
    await c.libp2p.hangUp(a.libp2p.peerId)
    await c.dial(a.peerId) // known to c's peer store from the bootstrap dial
    assert.ok(c.connectedPeers().includes(a.peerId))
    await assert.rejects(b.dial('not-a-peer'), { name: 'InvalidHostOptionError', message: /peerIdOrAddr/ })
    await assert.rejects(pool.host({ bootstrap: ['/ip4/999.1.1.1/tcp/1'] }), { name: 'InvalidHostOptionError', message: /bootstrap\[0\]/ })
  })
})
