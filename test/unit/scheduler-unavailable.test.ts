// client/scheduler.ts: a node that leaves Raft (its log's disk filled) answers writes with a clear
// 'unavailable' at once — also a write that was already in flight when it left. Soak seed 93: the
// leader's disk filled under a submission, its waiter was failed with "leadership changed", and the
// write then retried for a leader this node could never know until the client timed out.
import assert from 'node:assert/strict'
import { ClusterCore } from '../../src/node/cluster/core.js'
import { NodeScheduler } from '../../src/node/client/scheduler.js'
import type { LeaderLoop } from '../../src/node/leader/leader.js'
import type { TaskHistory } from '../../src/node/client/history.js'
import { NodeError } from '../../src/node/errors.js'
import { silentLogger } from '../../src/node/host/log.js'
import { mulberry32 } from '../../src/sched/rng.js'

function node (): { client: NodeScheduler, core: ClusterCore, proposed: Uint8Array[], setDown: (why: string | undefined) => void, forwarded: () => number } {
  const core = new ClusterCore(silentLogger)
  const proposed: Uint8Array[] = []
  core.bindProposer(data => { proposed.push(data) }) // proposes, never commits
  let down: string | undefined
  let leader = true
  let forwards = 0
  const client = new NodeScheduler({
    nodeId: 'node-under-test-0001',
    core,
    leader: {} as unknown as LeaderLoop,
    isLeader: () => leader,
    leaderRequest: async () => { forwards++; throw new NodeError('no_leader', 'no leader known') },
    now: () => Date.now(),
    rng: mulberry32(1),
    history: undefined as unknown as TaskHistory,
    localPrincipal: 'local-admin',
    writeDeadlineMs: 20_000,
    unavailable: () => down
  })
  return {
    client,
    core,
    proposed,
    setDown: why => { down = why; if (why !== undefined) leader = false },
    forwarded: () => forwards
  }
}

describe('scheduler: a node out of Raft', () => {
  it('refuses a write with unavailable before proposing anything', async () => {
    const n = node()
    n.setDown('disk full')
    await assert.rejects(n.client.submitTask({ taskType: 'echo', payload: {} }), (e: NodeError) => e.type === 'unavailable' && /disk full/.test(e.message))
    assert.equal(n.proposed.length, 0)
    assert.equal(n.forwarded(), 0)
  })

  it('answers unavailable at once when it leaves Raft while a write is in flight', async () => {
    const n = node()
    const t0 = Date.now()
    const p = n.client.submitTask({ taskType: 'echo', payload: {} }, { idempotencyKey: 'k1' })
    await new Promise(resolve => setImmediate(resolve)) // the turn flushes: the submission is proposed
    assert.equal(n.proposed.length, 1)
    // what RaftMember.onStorageError does: out of Raft, role follower, every waiter failed
    n.setDown('disk full')
    n.core.failAllWaiters()
    await assert.rejects(p, (e: NodeError) => e.type === 'unavailable' && /disk full/.test(e.message) && /may have committed/.test(e.message))
    assert.ok(Date.now() - t0 < 2000, `answered after ${Date.now() - t0} ms`)
    assert.equal(n.forwarded(), 0, 'no forwarding to a leader it cannot know')
  })
})
