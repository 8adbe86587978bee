// A storage that refuses a write (a full disk) stops the driver cleanly: no exception escapes to
// the event loop (which would kill the node), nothing of the refused Ready is applied, the owner
// hears of it, and a new driver on the same storage carries on once writes succeed again.
import assert from 'node:assert/strict'
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import { bootstrapStorage } from '../../src/protocol/raft/bootstrap.js'
import { RaftDriver, type RaftDriverOptions } from '../../src/node/raft/driver.js'
import { createLogger } from '../../src/node/log.js'
import type { Entry } from '../../src/protocol/raft/types.js'
import { mulberry32 } from '../../src/sched/rng.js'
import { eventually, sleep } from '../helpers/eventually.js'

class FillableStorage extends MemoryStorage {
  full = false
  override save (u: Parameters<MemoryStorage['save']>[0]): void {
    if (this.full && (u.entries?.length ?? 0) > 0) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
    super.save(u)
  }
}

describe('RaftDriver when the disk fills up', () => {
  it('stops without throwing, applies nothing of the refused write, and a new driver resumes', async () => {
    const storage = new FillableStorage()
    bootstrapStorage(storage, { voters: ['a'], learners: [] })
    const applied: Entry[] = []
    const errors: Error[] = []
    const uncaught: Error[] = []
    const onUncaught = (e: Error): void => { uncaught.push(e) }
    process.on('uncaughtException', onUncaught)
    const opts = (appliedIndex: number): RaftDriverOptions => ({
      id: 'a', storage, tickMs: 5, electionTicks: 3, rng: mulberry32(7), log: createLogger('t', 'silent'),
      send: () => {}, apply: e => { applied.push(e) }, onStorageError: e => { errors.push(e) },
      snapshotData: () => new Uint8Array(0), restoreSnapshot: () => {}, snapshotEntries: 1_000_000, applied: appliedIndex
    })
    const text = (e: Entry): string => new TextDecoder().decode(e.data)
    let d = new RaftDriver(opts(1))
    d.start()
    try {
      await eventually(() => d.isLeader, { timeoutMs: 5000 })
      d.propose(new TextEncoder().encode('before'))
      await eventually(() => applied.some(e => text(e) === 'before'), { timeoutMs: 2000 })
      storage.full = true
      d.propose(new TextEncoder().encode('refused'))
      await eventually(() => errors.length === 1, { timeoutMs: 2000 })
      assert.match(errors[0]!.message, /disk is full/)
      await sleep(50)
      assert.ok(!applied.some(e => text(e) === 'refused'), 'nothing of the refused write is applied')
      assert.throws(() => { d.propose(new TextEncoder().encode('after stop')) })
      assert.deepEqual(uncaught, [])
      // room again: a new driver on the same storage and state
      storage.full = false
      const at = d.appliedIndex
      d = new RaftDriver(opts(at))
      d.start()
      d.campaign()
      await eventually(() => d.isLeader, { timeoutMs: 5000 })
      d.propose(new TextEncoder().encode('resumed'))
      await eventually(() => applied.some(e => text(e) === 'resumed'), { timeoutMs: 2000 })
      assert.equal(applied.filter(e => text(e) === 'before').length, 1, 'nothing applied twice')
    } finally {
      d.stop()
      process.off('uncaughtException', onUncaught)
    }
  })
})
