// client/scheduler.ts, writes on a follower: a node that leaves Raft (its log's disk filled) answers
// with a clear 'unavailable' at once — also a write that was already in flight when it left (soak
// seed 93: the leader's disk filled under a submission, its waiter was failed with "leadership
// changed", and the write then retried for a leader this node could never know until the client
// timed out). And a forwarded submission is answered as soon as this node applies it itself.
import assert from 'node:assert/strict'
import { ClusterCore } from '../../src/node/cluster/core.js'
import { NodeScheduler } from '../../src/node/client/scheduler.js'
import type { LeaderLoop } from '../../src/node/leader/leader.js'
import type { TaskHistory } from '../../src/node/client/history.js'
import { NodeError } from '../../src/node/errors.js'
import { silentLogger } from '../../src/node/host/log.js'
import { mulberry32 } from '../../src/sched/rng.js'
import { encodeCommands, encodeValue } from '../../src/protocol/codec.js'
import { ClusterState } from '../../src/sched/state-machine.js'
import { assign, finished, result, submit, task } from './state-fixtures.js'
import type { Command } from '../../src/sched/commands.js'

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

describe('scheduler: writes through a follower', () => {
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

  it('a follower answers a forwarded submission when it applies it, before the leader\'s answer', async () => {
    const core = new ClusterCore(silentLogger)
    let forwarded: Record<string, unknown> | undefined
    const client = new NodeScheduler({
      nodeId: 'follower-under-test-01',
      core,
      leader: {} as unknown as LeaderLoop,
      isLeader: () => false,
      leaderRequest: async (type, body) => { forwarded = { type, ...body }; return await new Promise(() => {}) }, // the leader's answer never comes
      now: () => Date.now(),
      rng: mulberry32(2),
      history: undefined as unknown as TaskHistory,
      localPrincipal: 'local-admin',
      writeDeadlineMs: 20_000
    })
    const p = client.submitTask({ taskType: 'echo', payload: { n: 1 } })
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(forwarded?.type, 'submit')
    // the entry as the leader proposed it reaches this node's log and is applied here
    const cmd = { type: 'submit', requestId: forwarded!.requestId, principal: forwarded!.principal, at: Date.now(), tasks: forwarded!.tasks } as Command
    core.applyEntry({ term: 1, index: 1, type: 'normal', data: encodeCommands([cmd]) })
    const id = await p
    assert.equal(core.state.getTask(id)?.status, 'pending')
  })

  it('a waiter whose task finished inside a snapshot restored from the leader is answered at the restore', async () => {
    const n = node()
    const entry = (index: number, cmds: Command[]): void => { n.core.applyEntry({ term: 1, index, type: 'normal', data: encodeCommands(cmds) }) }
    entry(2, [submit([task('w1')])])
    const t0 = Date.now()
    const waiting = n.client.waitForResult('w1', { timeoutMs: 20_000 })
    // a task submitted after the snapshot's index: not in it, its entry comes after the restore
    const visible = (n.client as unknown as { appliedLocally: (id: string, ms: number) => Promise<boolean> }).appliedLocally('w2', 10_000)
    await new Promise(resolve => setTimeout(resolve, 20))
    // the leader's state: w1 assigned and finished in entries this node never applied
    const leader = new ClusterState()
    leader.apply(submit([task('w1')]), 2)
    leader.apply(assign('w1', 1, 'd1'), 3)
    leader.apply(finished(result('w1', 1, 'd1', 'completed', { result: 42 })), 4)
    n.core.restore(encodeValue(leader.snapshot()))
    const rec = await waiting
    assert.equal(rec.status, 'completed')
    assert.ok(Date.now() - t0 < 2000, `answered after ${Date.now() - t0} ms`)
    entry(5, [submit([task('w2')])])
    assert.equal(await visible, true, 'a task not in the snapshot is waited for on')
  })

  it('a write forwarded to a leader that is then replaced goes to the new one at once, under the same requestId', async () => {
    const core = new ClusterCore(silentLogger)
    let leaderId: string | null = 'old-leader'
    const listeners = new Set<() => void>()
    const sent: Array<{ to: string | null, requestId: unknown, body: Record<string, unknown> }> = []
    const client = new NodeScheduler({
      nodeId: 'follower-under-test-02',
      core,
      leader: {} as unknown as LeaderLoop,
      isLeader: () => false,
      leaderId: () => leaderId,
      onLeaderChange: l => { listeners.add(l); return () => { listeners.delete(l) } },
      leaderRequest: async (_type, body) => {
        const to = leaderId
        sent.push({ to, requestId: body.requestId, body })
        // the old leader is cut off: it never answers; the new one does
        if (to === 'old-leader') return await new Promise(() => {})
        return { ok: true, taskIds: (body.tasks as Array<{ id: string }>).map(t => t.id), duplicate: false }
      },
      now: () => Date.now(),
      rng: mulberry32(3),
      history: undefined as unknown as TaskHistory,
      localPrincipal: 'local-admin',
      writeDeadlineMs: 20_000
    })
    const t0 = Date.now()
    const p = client.submitTask({ taskType: 'echo', payload: { n: 2 } })
    await new Promise(resolve => setTimeout(resolve, 30))
    assert.deepEqual(sent.map(s => s.to), ['old-leader'])
    // an election starts (no leader known): nothing is sent meanwhile
    leaderId = null
    for (const l of [...listeners]) l()
    await new Promise(resolve => setTimeout(resolve, 30))
    assert.equal(sent.filter(s => s.to !== 'old-leader').length, 0)
    leaderId = 'new-leader'
    for (const l of [...listeners]) l()
    await new Promise(resolve => setTimeout(resolve, 30))
    assert.deepEqual(sent.map(s => s.to), ['old-leader', 'new-leader'], 'sent again at once, not at the old request\'s timeout')
    assert.equal(sent[0]!.requestId, sent[1]!.requestId, 'one requestId: the state machine records a second arrival once')
    // the new leader's entry reaches this node (read-your-writes waits for it)
    const b = sent[1]!.body
    core.applyEntry({ term: 2, index: 1, type: 'normal', data: encodeCommands([{ type: 'submit', requestId: b.requestId, principal: b.principal, at: Date.now(), tasks: b.tasks } as Command]) })
    const id = await p
    assert.ok(Date.now() - t0 < 3000, `answered after ${Date.now() - t0} ms`)
    assert.equal(typeof id, 'string')
    assert.equal(listeners.size, 0, 'no listener left behind')
  })
})
