// The node's Raft driver honours the Ready contract with a deferred fsync: nothing of a Ready is
// applied, voted or acknowledged before storage.flush() resolves; the leader's appends may leave
// before it. A single-voter cluster over MemoryStorage with a gate on flush().
import assert from 'node:assert/strict'
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import { bootstrapStorage } from '../../src/protocol/raft/bootstrap.js'
import { RaftDriver } from '../../src/node/raft/driver.js'
import { createLogger } from '../../src/node/log.js'
import type { Entry, Message } from '../../src/protocol/raft/types.js'
import { mulberry32 } from '../../src/sched/rng.js'
import { eventually } from '../helpers/eventually.js'

class GatedStorage extends MemoryStorage {
  gates: Array<() => void> = []
  saves = 0
  override save (u: Parameters<MemoryStorage['save']>[0]): void { this.saves++; super.save(u) }
  flush (): Promise<void> { return new Promise(resolve => { this.gates.push(resolve) }) }
  open (): void { for (const g of this.gates.splice(0)) g() }
}

describe('RaftDriver with a deferred fsync', () => {
  it('applies an entry only after its write was flushed', async () => {
    const storage = new GatedStorage()
    bootstrapStorage(storage, { voters: ['a'], learners: [] })
    const applied: Entry[] = []
    const sent: Message[] = []
    const d = new RaftDriver({
      id: 'a', storage, tickMs: 5, electionTicks: 3, rng: mulberry32(1), log: createLogger('t', 'silent'),
      send: m => { sent.push(m) }, apply: e => { applied.push(e) },
      snapshotData: () => new Uint8Array(0), restoreSnapshot: () => {}, snapshotEntries: 1_000_000, applied: 1
    })
    d.start()
    try {
      // the election writes term/vote: each write waits at the gate until we open it
      await eventually(() => { storage.open(); return d.isLeader }, { timeoutMs: 5000 })
      const before = applied.length
      d.propose(new TextEncoder().encode('x'))
      await eventually(() => storage.gates.length > 0, { timeoutMs: 2000 })
      await new Promise(resolve => setTimeout(resolve, 50))
      assert.equal(applied.filter(e => e.data.byteLength > 0).length, 0, 'nothing applied while the write is not durable')
      assert.equal(applied.length, before)
      storage.open()
      await eventually(() => { storage.open(); return applied.some(e => new TextDecoder().decode(e.data) === 'x') }, { timeoutMs: 2000 })
    } finally {
      d.stop()
    }
  })
})
