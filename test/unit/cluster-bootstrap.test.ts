// The fresh-node bootstrap rule (src/node/cluster/bootstrap.ts): a node that knows of no one forms
// its cluster after the short quiet window; one that was told of others, or has seen any, waits the
// full settle time, so it joins an existing cluster instead of founding a second one.
import assert from 'node:assert/strict'
import { decideBootstrap, settleTimeMs, type BootstrapView } from '../../src/node/cluster/bootstrap.js'
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
})
