// The fresh-node bootstrap rule (src/node/cluster/bootstrap.ts): a node that knows of no one forms
// its cluster after the short quiet window; one that was told of others, or has seen any, waits the
// full settle time, so it joins an existing cluster instead of founding a second one.
import assert from 'node:assert/strict'
import { decideBootstrap, settleTimeMs, type BootstrapView } from '../../src/node/cluster/bootstrap.js'
import { unheardPeers } from '../../src/node/cluster/first-start.js'
import type { DeviceBid } from '../../src/sched/types.js'

const bid = (nodeId: string, member: boolean): DeviceBid => ({ nodeId, cluster: { member } }) as unknown as DeviceBid
const view = (v: Partial<BootstrapView>): BootstrapView => ({ selfId: 'B', expect: 1, bids: [], elapsedMs: 0, settleMs: 2500, ...v })

describe('cluster bootstrap: when a fresh node forms', () => {
  it('alone and unannounced: forms after the quiet window, not the settle time', () => {
    const v = view({ announced: false, quietSettleMs: 500 })
    assert.equal(settleTimeMs(v), 500)
    assert.equal(decideBootstrap({ ...v, elapsedMs: 499 }), undefined)
    assert.deepEqual(decideBootstrap({ ...v, elapsedMs: 500 }), { kind: 'form', voters: ['B'] })
    assert.deepEqual(decideBootstrap(view({ announced: false, quietSettleMs: 0 })), { kind: 'form', voters: ['B'] })
  })

  it('announced (bootstrap addresses, a discovered or connected peer): waits the full settle time', () => {
    const v = view({ announced: true, quietSettleMs: 0, elapsedMs: 600 })
    assert.equal(settleTimeMs(v), 2500)
    assert.equal(decideBootstrap(v), undefined)
    assert.deepEqual(decideBootstrap({ ...v, elapsedMs: 2500 }), { kind: 'form', voters: ['B'] })
  })

  it('a bid from another node counts as announced even when the caller said otherwise', () => {
    const v = view({ announced: false, quietSettleMs: 0, bids: [bid('A', false)], elapsedMs: 100 })
    assert.equal(settleTimeMs(v), 2500)
    assert.equal(decideBootstrap(v), undefined)
  })

  it('a member bid joins at once, whatever the timing', () => {
    assert.deepEqual(decideBootstrap(view({ announced: false, quietSettleMs: 0, bids: [bid('A', true)] })), { kind: 'join' })
  })

  it('without the new fields the old rule holds (announced is assumed)', () => {
    assert.equal(settleTimeMs(view({})), 2500)
    assert.equal(decideBootstrap(view({ elapsedMs: 2000 })), undefined)
  })

  it('expect > 1 still waits for enough fresh peers after the quiet window', () => {
    assert.equal(decideBootstrap(view({ expect: 2, announced: false, quietSettleMs: 0, elapsedMs: 10_000 })), undefined)
  })

  it('nodes starting together form after the minimum once everyone they know of has sent a bid', () => {
    const v = view({ selfId: 'B', expect: 3, announced: true, bids: [bid('A', false), bid('C', false)], minSettleMs: 1000 })
    assert.equal(settleTimeMs({ ...v, unheard: 0 }), 1000)
    assert.equal(decideBootstrap({ ...v, unheard: 0, elapsedMs: 999 }), undefined)
    assert.deepEqual(decideBootstrap({ ...v, unheard: 0, elapsedMs: 1000 }), { kind: 'form', voters: ['A', 'B', 'C'] })
    // someone known is still silent (it may be a member of an existing cluster): the full settle time
    assert.equal(settleTimeMs({ ...v, unheard: 1 }), 2500)
    assert.equal(decideBootstrap({ ...v, unheard: 1, elapsedMs: 2000 }), undefined)
    // not enough fresh nodes yet: the full settle time, and then still waiting for them
    assert.equal(settleTimeMs({ ...v, bids: [bid('A', false)], unheard: 0 }), 2500)
    // a member among them: join, whatever the timing
    assert.deepEqual(decideBootstrap({ ...v, bids: [bid('A', true), bid('C', false)], unheard: 0, elapsedMs: 0 }), { kind: 'join' })
  })

  it('unheard peers: connected peers without a bid, and bootstrap addresses by their /p2p/ id', () => {
    const bids = [bid('A', false)]
    assert.equal(unheardPeers(bids, ['A'], []), 0)
    assert.equal(unheardPeers(bids, ['A', 'C'], []), 1)
    assert.equal(unheardPeers(bids, [], ['/ip4/127.0.0.1/tcp/1/p2p/A']), 0)
    assert.equal(unheardPeers(bids, [], ['/ip4/127.0.0.1/tcp/1/p2p/D']), 1)
    assert.equal(unheardPeers(bids, ['D'], ['/ip4/127.0.0.1/tcp/1/p2p/D']), 1, 'a peer counts once')
    assert.equal(unheardPeers([], [], ['/dnsaddr/example.org']), 1, 'an address without an id counts until a peer is connected')
    assert.equal(unheardPeers(bids, ['A'], ['/dnsaddr/example.org']), 0)
  })
})

