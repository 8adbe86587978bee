// PeerDialer: who a bid makes this node dial (src/node/gossip/peer-dialer.ts). A fake libp2p records
// the dials; peer ids are real Ed25519 ones.
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerDialer } from '../../src/node/gossip/peer-dialer.js'
import { silentLogger } from '../../src/node/host/log.js'
import type { DeviceBid } from '../../src/sched/types.js'

async function newId (): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

describe('PeerDialer', () => {
  it('dials the sender and the peers its bid passes on, not itself, not the connected, once each', async () => {
    const [self, a, b, c] = await Promise.all([newId(), newId(), newId(), newId()])
    const dialed: string[] = []
    const merged = new Map<string, string[]>()
    const libp2p = {
      peerStore: { merge: async (p: { toString: () => string }, d: { multiaddrs: Array<{ toString: () => string }> }) => { merged.set(p.toString(), d.multiaddrs.map(String)) } },
      dial: async (p: { toString: () => string }) => { dialed.push(p.toString()) }
    }
    const d = new PeerDialer({ selfId: self, libp2p: libp2p as never, connectedPeers: () => [c], log: silentLogger })
    const bid = {
      nodeId: a,
      addrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${a}`],
      peers: [
        { id: b, addrs: [`/ip4/127.0.0.1/tcp/4002/p2p/${b}`] },
        { id: c, addrs: ['/ip4/127.0.0.1/tcp/4003'] },     // connected already
        { id: self, addrs: ['/ip4/127.0.0.1/tcp/4004'] },  // ourselves
        { id: 'not-a-peer-id', addrs: ['/ip4/127.0.0.1/tcp/4005'] }
      ]
    } as unknown as DeviceBid
    d.onBid(bid)
    d.onBid(bid) // a second bid while the dials are in flight: no second dial
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(dialed.sort(), [a, b].sort())
    assert.deepEqual(merged.get(b), ['/ip4/127.0.0.1/tcp/4002'], 'the /p2p suffix is stripped')
  })
})
