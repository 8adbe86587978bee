// How often a bid is refreshed and how long the table keeps it: an idle Raft member's bid is rarer
// and lives longer; anyone else's keeps the busy pace and the short TTL.
import assert from 'node:assert/strict'
import { BidTable } from '../../src/node/gossip/bid-table.js'
import { bidTtlMs, refreshMs } from '../../src/node/gossip/significance.js'
import type { DeviceBid } from '../../src/sched/types.js'

function bid (nodeId: string, over: Partial<DeviceBid> = {}): DeviceBid {
  return {
    nodeId, name: nodeId, incarnation: 1, seq: 1, role: 'compute', platform: 'linux', arch: 'x64', cpuCores: 4, memoryGb: 8, storageGb: 100,
    gpu: false, sensors: [], internet: true, bandwidthMbps: 100, taskTypes: ['echo'], permissions: [],
    sandbox: { network: false, memory: true, cpu: true, filesystem: false },
    cpuUsage: 10, memoryUsage: 20, memoryUsedGb: 1.6, activeTasks: 0, maxConcurrentTasks: 4, latencyMs: 0,
    cluster: { member: true, leaderId: null, term: 1 }, ...over
  }
}

describe('bid cadence', () => {
  it('refreshMs: only an idle, active Raft member gets the idle pace', () => {
    assert.equal(refreshMs(bid('a'), 1000, 5000), 5000)
    assert.equal(refreshMs(bid('a', { device: { state: 'active' } }), 1000, 5000), 5000)
    assert.equal(refreshMs(bid('a', { activeTasks: 1 }), 1000, 5000), 1000, 'running tasks')
    assert.equal(refreshMs(bid('a', { cluster: { member: false, leaderId: null, term: 0 } }), 1000, 5000), 1000, 'a fresh node')
    assert.equal(refreshMs(bid('a', { cluster: undefined }), 1000, 5000), 1000, 'an older node that says nothing of its cluster')
    assert.equal(refreshMs(bid('a', { device: { state: 'draining', drainLeftMs: 9000 } }), 1000, 5000), 1000, 'draining')
    assert.equal(refreshMs(bid('a', { device: { state: 'cordoned' } }), 1000, 5000), 1000, 'cordoned')
    assert.equal(refreshMs(bid('a'), 1000, 500), 1000, 'the idle pace is never faster than the busy one')
  })

  it('the table expires each bid after its own TTL and never our own', () => {
    const t = new BidTable()
    t.offer(bid('idle'), 0)
    t.offer(bid('busy', { activeTasks: 2 }), 0)
    t.offer(bid('self'), 0)
    const ttlOf = (b: DeviceBid): number => bidTtlMs(b, 6000, 1000, 5000)
    assert.deepEqual(t.expire(6000, ttlOf, 'self').map(e => e.bid.nodeId), [])
    assert.deepEqual(t.expire(6001, ttlOf, 'self').map(e => e.bid.nodeId), ['busy'])
    assert.deepEqual(t.expire(15_000, ttlOf, 'self').map(e => e.bid.nodeId), [])
    assert.deepEqual(t.expire(15_001, ttlOf, 'self').map(e => e.bid.nodeId), ['idle'])
    assert.deepEqual(t.all().map(e => e.bid.nodeId), ['self'])
  })
})
