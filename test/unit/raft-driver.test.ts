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

/** one voter over MemoryStorage (instant disk) that applies with `apply`; `over` sets the snapshot options */
function soleVoter (apply: (e: Entry) => void, over: Partial<ConstructorParameters<typeof RaftDriver>[0]>): { d: RaftDriver, storage: MemoryStorage } {
  const storage = new MemoryStorage()
  bootstrapStorage(storage, { voters: ['a'], learners: [] })
  const d = new RaftDriver({
    id: 'a', storage, tickMs: 5, electionTicks: 3, rng: mulberry32(1), log: createLogger('t', 'silent'),
    send: () => {}, apply, snapshotData: () => new Uint8Array(0), restoreSnapshot: () => {}, snapshotEntries: 1_000_000, applied: 1, ...over
  })
  return { d, storage }
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

  it('takes a snapshot before a graceful stop once over 1 MiB of log came since the last (issue 14)', async () => {
    const storage = new MemoryStorage()
    bootstrapStorage(storage, { voters: ['a'], learners: [] })
    let applied = 0
    let bytes = 0
    const d = new RaftDriver({
      id: 'a', storage, tickMs: 5, electionTicks: 3, rng: mulberry32(1), log: createLogger('t', 'silent'),
      send: () => {}, apply: e => { applied = e.index; bytes += e.data.byteLength },
      snapshotData: () => new Uint8Array([applied & 255]), restoreSnapshot: () => {}, snapshotEntries: 1_000_000, applied: 1
    })
    d.start()
    try {
      await eventually(() => d.isLeader, { timeoutMs: 5000 })
      d.propose(new Uint8Array(512 * 1024))
      await eventually(() => bytes === 512 * 1024, { timeoutMs: 2000 })
      await d.snapshotBeforeStop()
      assert.equal(storage.snapshot().meta.index, 1, 'half a MiB: a restart replays it, no snapshot')
      d.propose(new Uint8Array(768 * 1024))
      await eventually(() => bytes === (512 + 768) * 1024 && d.appliedIndex === applied, { timeoutMs: 2000 })
      await d.snapshotBeforeStop()
      assert.equal(storage.snapshot().meta.index, d.appliedIndex, 'the next start restores this instead of replaying the log')
    } finally {
      d.stop()
    }
  })

  it('a byte-triggered snapshot waits for twice the last snapshot\'s size of log (a big state is not re-encoded every 32 MiB)', async () => {
    let applied = 0
    const snapshots: number[] = []
    const { d } = soleVoter(e => { applied = e.index }, {
      // the state is 8 KiB whatever the log: the log trigger is 1 KiB
      snapshotData: () => { snapshots.push(applied); return new Uint8Array(8 * 1024) },
      snapshotEntries: 1_000_000,
      snapshotLogBytes: 1024
    })
    d.start()
    try {
      await eventually(() => d.isLeader, { timeoutMs: 5000 })
      // 40 entries of 1 KiB: the first snapshot after 1 KiB (no earlier state), then one per 16 KiB
      for (let i = 0; i < 40; i++) {
        const before = d.appliedIndex
        d.propose(new Uint8Array(1024))
        await eventually(() => d.appliedIndex > before, { timeoutMs: 2000 })
      }
      assert.equal(snapshots.length, 3, `snapshots at ${JSON.stringify(snapshots)}`)
      const [first, second, third] = snapshots as [number, number, number]
      assert.ok(second - first >= 16 && third - second >= 16, `snapshots at ${JSON.stringify(snapshots)}`)
    } finally {
      d.stop()
    }
  })

  it('the entry count starts a snapshot only once the log since the last holds half its size (a big state is not re-encoded every few small entries)', async () => {
    let applied = 0
    const snapshots: number[] = []
    const { d } = soleVoter(e => { applied = e.index }, {
      // the state is 8 KiB whatever the log; entries of 100 bytes; the count trigger is 5 entries
      snapshotData: () => { snapshots.push(applied); return new Uint8Array(8 * 1024) },
      snapshotEntries: 5
    })
    d.start()
    try {
      await eventually(() => d.isLeader, { timeoutMs: 5000 })
      for (let i = 0; i < 100; i++) {
        const before = d.appliedIndex
        d.propose(new Uint8Array(100))
        await eventually(() => d.appliedIndex > before, { timeoutMs: 2000 })
      }
      // the first after 5 entries (no earlier state), then one per 4 KiB of log (~41 entries), not per 5
      assert.ok(snapshots.length >= 2 && snapshots.length <= 3, `snapshots at ${JSON.stringify(snapshots)}`)
      for (let i = 1; i < snapshots.length; i++) assert.ok(snapshots[i]! - snapshots[i - 1]! >= 40, `snapshots at ${JSON.stringify(snapshots)}`)
    } finally {
      d.stop()
    }
  })

  it('a snapshot encoded over several turns is stored at the index it was started at, one at a time; a stop snapshot waits for it, then takes its own the same way', async () => {
    let applied = 0
    const started: number[] = []
    const finishers: Array<() => void> = []
    const { d, storage } = soleVoter(e => { applied = e.index }, {
      snapshotData: () => new Uint8Array([0xee, applied & 255]),
      snapshotAsync: () => {
        const at = applied
        started.push(at)
        return new Promise(resolve => { finishers.push(() => { resolve([new Uint8Array([0xaa]), new Uint8Array([at & 255])]) }) })
      },
      snapshotEntries: 5
    })
    d.start()
    try {
      await eventually(() => d.isLeader, { timeoutMs: 5000 })
      const propose = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          const before = d.appliedIndex
          d.propose(new Uint8Array([i]))
          await eventually(() => d.appliedIndex > before, { timeoutMs: 2000 })
        }
      }
      await propose(6)
      assert.equal(started.length, 1, 'the count triggered one')
      const at = started[0]!
      // it is being encoded: the node goes on committing and applying, and starts no second one
      await propose(12)
      assert.equal(started.length, 1)
      assert.ok(d.appliedIndex >= at + 12)
      assert.ok(storage.snapshot().meta.index < at, 'nothing stored yet')
      finishers.shift()!()
      await eventually(() => storage.snapshot().meta.index === at, { timeoutMs: 2000 })
      assert.deepEqual([...storage.snapshot().data], [0xaa, at & 255])
      assert.ok(storage.firstIndex() > 1 && storage.firstIndex() <= at, `compacted to ${storage.firstIndex()}`)
      // entries applied meanwhile still count towards the next one
      await propose(1)
      assert.equal(started.length, 2)
      // a stop snapshot while one is encoded: that one is stored first, then the stop's own, in slices too
      const second = started[1]!
      await propose(2)
      assert.equal(started.length, 2)
      const stopAt = d.appliedIndex
      ;(d as unknown as { bytesSinceSnapshot: number }).bytesSinceSnapshot = 2 * 1024 * 1024
      let stopped = false
      const stopping = d.snapshotBeforeStop().then(() => { stopped = true })
      await new Promise(resolve => setTimeout(resolve, 20))
      assert.equal(stopped, false, 'it waits for the one under way')
      finishers.shift()!()
      await eventually(() => started.length === 3, { timeoutMs: 2000 })
      assert.equal(storage.snapshot().meta.index, second)
      assert.equal(started[2], stopAt, 'then its own, at the applied index, through snapshotAsync (never in one go)')
      finishers.shift()!()
      await stopping
      assert.equal(storage.snapshot().meta.index, stopAt)
      assert.deepEqual([...storage.snapshot().data], [0xaa, stopAt & 255])
    } finally {
      d.stop()
    }
  })

  it('compacts the log after a snapshot a slice a turn, and stops quietly when stopped', async () => {
    const calls: number[] = []
    const { d, storage } = soleVoter(() => {}, { snapshotEntries: 60, compactSliceMs: -1 }) // every slice over budget: one entry
    const compact = storage.compact.bind(storage)
    storage.compact = (i: number) => { calls.push(i); compact(i) }
    d.start()
    try {
      await eventually(() => d.isLeader, { timeoutMs: 5000 })
      for (let i = 0; i < 70; i++) d.propose(new Uint8Array([1, 2, 3, i]))
      await eventually(() => storage.snapshot().meta.index >= 60, { timeoutMs: 5000 })
      const target = storage.snapshot().meta.index - 30 // keep: half the interval
      await eventually(() => storage.firstIndex() === target + 1, { timeoutMs: 5000 })
      assert.ok(calls.length >= 25, `${calls.length} slices: ${calls.join(' ')}`)
      for (let i = 1; i < calls.length; i++) assert.equal(calls[i], calls[i - 1]! + 1, 'one entry a slice')
      // stopped in the middle of the next one (its storage closed): the rest is not done, and no error
      const before = calls.length
      storage.compact = (i: number) => {
        calls.push(i)
        compact(i)
        if (calls.length === before + 2) { d.stop(); storage.close() }
      }
      for (let i = 0; i < 70; i++) d.propose(new Uint8Array([1, 2, 3, i]))
      await eventually(() => calls.length >= before + 2, { timeoutMs: 5000 })
      await new Promise(resolve => setTimeout(resolve, 20))
      assert.equal(calls.length, before + 2)
    } finally {
      d.stop()
    }
  })

  it('a compaction\'s slices grow while each takes under half its budget', async () => {
    const calls: number[] = []
    const { d, storage } = soleVoter(() => {}, { snapshotEntries: 80, compactSliceMs: 1000 })
    const compact = storage.compact.bind(storage)
    storage.compact = (i: number) => { calls.push(i); compact(i) }
    d.start()
    try {
      await eventually(() => d.isLeader, { timeoutMs: 5000 })
      for (let i = 0; i < 90; i++) d.propose(new Uint8Array([i]))
      await eventually(() => storage.snapshot().meta.index >= 80 && storage.firstIndex() > storage.snapshot().meta.index - 40, { timeoutMs: 5000 })
      const sizes = calls.map((c, i) => c - (i === 0 ? 1 : calls[i - 1]!))
      assert.deepEqual(sizes.slice(0, 4), [1, 2, 4, 8], `slices ${sizes.join(' ')}`)
    } finally {
      d.stop()
    }
  })

  it('never tells a follower of a commit before the leader\'s own copy is on disk', async () => {
    // three drivers wired in-process; the leader's fsync is held at a gate
    const ids = ['a', 'b', 'c']
    const storages = new Map(ids.map(id => {
      const st = new GatedStorage()
      bootstrapStorage(st, { voters: ids, learners: [] })
      return [id, st]
    }))
    const drivers = new Map<string, RaftDriver>()
    const leaked: Message[] = []
    let gatedLeader: string | undefined
    let heldIndex = Infinity
    for (const id of ids) {
      drivers.set(id, new RaftDriver({
        id, storage: storages.get(id)!, tickMs: 5, electionTicks: 5, rng: mulberry32(ids.indexOf(id) + 7), log: createLogger(id, 'silent'),
        send: m => {
          if (m.from === gatedLeader && (m.commit ?? 0) >= heldIndex) leaked.push(m)
          setImmediate(() => { drivers.get(m.to)?.step(m) })
        },
        apply: () => {},
        snapshotData: () => new Uint8Array(0), restoreSnapshot: () => {}, snapshotEntries: 1_000_000, applied: 1
      }))
    }
    // followers' disks are instant; every gate opens at once until we hold the leader's
    const opener = setInterval(() => { for (const [id, st] of storages) if (id !== gatedLeader) st.open() }, 1)
    for (const d of drivers.values()) d.start()
    try {
      const leader = await eventually(() => [...drivers.values()].find(d => d.isLeader) ?? false, { timeoutMs: 10_000 })
      const leaderId = [...drivers.entries()].find(([, d]) => d === leader)![0]
      await eventually(() => leader.appliedIndex >= 2, { timeoutMs: 5000 }) // its no-op is applied
      gatedLeader = leaderId
      storages.get(leaderId)!.open()
      heldIndex = storages.get(leaderId)!.lastIndex() + 1
      leader.propose(new TextEncoder().encode('x'))
      // followers get the entry early, store it and ack; the leader's fsync stays held
      await eventually(() => ids.filter(id => id !== leaderId).every(id => storages.get(id)!.lastIndex() >= heldIndex), { timeoutMs: 5000 })
      await new Promise(resolve => setTimeout(resolve, 200))
      assert.deepEqual(leaked, [], 'a commit covering the undurable entry reached a follower')
      // once the leader's disk has it, the commit flows
      gatedLeader = undefined
      storages.get(leaderId)!.open()
      await eventually(() => { storages.get(leaderId)!.open(); return leader.appliedIndex >= heldIndex }, { timeoutMs: 5000 })
    } finally {
      clearInterval(opener)
      for (const d of drivers.values()) d.stop()
    }
  })
})
