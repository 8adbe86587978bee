// The driver counts Raft ticks instead of timing each one: it sleeps until the core's next timer
// event (a follower's election deadline, a leader's next heartbeat) and hands the core the ticks
// that passed before every message. On simulated time: how often it wakes, and that elections and
// heartbeats still come when a fixed-period tick would have brought them.
import assert from 'node:assert/strict'
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import { bootstrapStorage } from '../../src/protocol/raft/bootstrap.js'
import { RaftDriver } from '../../src/node/raft/driver.js'
import { createLogger } from '../../src/node/log.js'
import type { Message } from '../../src/protocol/raft/types.js'
import type { Scheduler } from '../../src/node/scheduler.js'
import { mulberry32 } from '../../src/sched/rng.js'
import { SimScheduler } from '../sim/sim-scheduler.js'

/** the driver's door to the simulated clock, counting the driver's timers that fired */
class CountingScheduler extends SimScheduler {
  fired = 0
  readonly forDriver: Scheduler = {
    nowMs: () => this.nowMs(),
    monotonicMs: () => this.monotonicMs(),
    timeout: (fn, ms) => this.timeout(() => { this.fired++; fn() }, ms),
    interval: (fn, ms) => this.interval(() => { this.fired++; fn() }, ms),
    immediate: fn => { this.immediate(fn) }
  }
}

const TICK = 100
const ELECTION_TICKS = 10

function driver (id: string, sched: CountingScheduler, sent: Message[]): RaftDriver {
  const storage = new MemoryStorage()
  bootstrapStorage(storage, { voters: ['a', 'b', 'c'], learners: [] })
  return new RaftDriver({
    id, storage, tickMs: TICK, electionTicks: ELECTION_TICKS, rng: mulberry32(7), log: createLogger('t', 'silent'),
    send: m => { sent.push(m) }, apply: () => {}, scheduler: sched.forDriver,
    snapshotData: () => new Uint8Array(0), restoreSnapshot: () => {}, snapshotEntries: 1_000_000, applied: 1
  })
}

const heartbeat = (to: string): Message => ({ type: 'heartbeat', from: 'a', to, term: 1, commit: 1 })

/** a started driver `id` of {a,b,c} on simulated time, stopped after `body` */
async function withDriver (id: string, body: (d: RaftDriver, sched: CountingScheduler, sent: Message[]) => Promise<void>): Promise<void> {
  const sched = new CountingScheduler()
  const sent: Message[] = []
  const d = driver(id, sched, sent)
  d.start()
  try { await body(d, sched, sent) } finally { d.stop() }
}

describe('RaftDriver ticks: counted, not timed', () => {
  it('a follower hearing heartbeats wakes once per election timeout, not per tick, and campaigns one election timeout after the last', async () => {
    await withDriver('b', async (d, sched, sent) => {
      // 20 s of heartbeats every 300 ms (a fixed-period tick: 200 wake-ups)
      for (let t = 300; t <= 20_000; t += 300) {
        sched.timeout(() => { d.step(heartbeat('b')) }, t - sched.elapsedMs)
        await sched.advanceTo(t)
      }
      assert.equal(d.leaderId, 'a')
      assert.equal(sent.filter(m => m.type === 'preVote').length, 0, 'no election while the leader is heard')
      // once per election timeout at most (it fires at the deadline it was armed for, finds the
      // deadline moved by the heartbeats, and sleeps again), against 200 ticks of a fixed period
      assert.ok(sched.fired <= 20_000 / (ELECTION_TICKS * TICK) + 1, `the driver's timer fired ${sched.fired} times in 20 s`)
      // the leader falls silent: a pre-vote goes out within [1, 2) election timeouts (+1 tick of grid)
      const silentFrom = sched.elapsedMs
      let campaignedAt = -1
      for (let t = silentFrom + 10; t <= silentFrom + 3000 && campaignedAt < 0; t += 10) {
        await sched.advanceTo(t)
        if (sent.some(m => m.type === 'preVote')) campaignedAt = t - silentFrom
      }
      assert.ok(campaignedAt >= ELECTION_TICKS * TICK && campaignedAt <= 2 * ELECTION_TICKS * TICK + TICK, `campaigned ${campaignedAt} ms after the last heartbeat`)
    })
  })

  it('a heartbeat read in the turn its deadline fell due is counted first: no election after a stall', async () => {
    await withDriver('b', async (d, sched, sent) => {
      d.step(heartbeat('b'))
      await sched.advanceTo(1)
      // nothing more is heard until a heartbeat that waited in the socket is read in the very turn
      // the election deadline falls due (its timer was armed first, so it fires first)
      const deadline = d.raft.raft.randomizedElectionTimeout * TICK
      sched.timeout(() => { d.step(heartbeat('b')) }, deadline - sched.elapsedMs)
      await sched.advanceTo(deadline + 1)
      assert.equal(sent.filter(m => m.type === 'preVote').length, 0)
    })
  })

  it('a leader wakes once per heartbeat interval, not once per tick, and sends each heartbeat on time', async () => {
    await withDriver('a', async (d, sched, sent) => {
      d.campaign()
      await sched.advanceTo(1)
      // grant the pre-vote and the vote from b
      for (const type of ['preVote', 'vote'] as const) {
        const req = sent.find(m => m.type === type && m.to === 'b')
        assert.ok(req !== undefined, `a sent a ${type}`)
        d.step({ type: type === 'preVote' ? 'preVoteResp' : 'voteResp', from: 'b', to: 'a', term: req.term })
        await sched.advanceTo(sched.elapsedMs + 1)
      }
      assert.ok(d.isLeader)
      const start = sched.elapsedMs
      const firedBefore = sched.fired
      sent.length = 0
      const heartbeatsAt: number[] = []
      // 3 s; b answers each heartbeat so the leader keeps its quorum (checkQuorum)
      for (let t = start + 10; t <= start + 3000; t += 10) {
        await sched.advanceTo(t)
        for (const m of sent.splice(0)) {
          if (m.type !== 'heartbeat' || m.to !== 'b') continue
          heartbeatsAt.push(t)
          d.step({ type: 'heartbeatResp', from: 'b', to: 'a', term: m.term })
        }
      }
      assert.ok(d.isLeader, 'still leading')
      const wakes = sched.fired - firedBefore
      // heartbeats every 3 ticks and the quorum check every 10: 10 + 3 in 3 s; a per-tick timer fired 30 times
      assert.ok(wakes >= 9 && wakes <= 13, `the leader's timer fired ${wakes} times in 3 s`)
      assert.ok(heartbeatsAt.length >= 9 && heartbeatsAt.length <= 11, `${heartbeatsAt.length} heartbeats to b in 3 s`)
      for (let i = 1; i < heartbeatsAt.length; i++) assert.equal(heartbeatsAt[i]! - heartbeatsAt[i - 1]!, 3 * TICK)
    })
  })
})
