// Throughput of a 3-node in-process Raft cluster: messages are delivered in-process immediately, every
// node honours the Ready contract (persist → send → apply → advance). The leader proposes `batch`
// entries per round; we count entries committed and applied on the leader per second.
//   npx tsx scripts/bench-raft.ts [--seconds 3] [--size 128]
// Prints one JSON object. Uses SqliteStorage too if src/node/raft/sqlite-storage.ts exists.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RawNode } from '../src/protocol/raft/raw-node.js'
import { MemoryStorage } from '../src/protocol/raft/memory-storage.js'
import type { ConfState, Message, RaftStorage } from '../src/protocol/raft/types.js'

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? dflt : Number(process.argv[i + 1])
}
const seconds = arg('seconds', 3)
const size = arg('size', 128)
const IDS = ['n1', 'n2', 'n3']
const CONF: ConfState = { voters: IDS, learners: [] }

interface BenchResult { storage: string, batch: number, entrySize: number, seconds: number, committed: number, entriesPerSec: number, readiesPerSec: number }

function run (storageName: string, makeStorage: (id: string) => RaftStorage, batch: number): BenchResult {
  const storages = new Map(IDS.map(id => [id, makeStorage(id)]))
  let seed = 1
  const nodes = new Map(IDS.map(id => [id, new RawNode({
    id, electionTick: 10, heartbeatTick: 1, storage: storages.get(id) as RaftStorage,
    rng: () => ((seed = (seed * 16807) % 2147483647) / 2147483647), preVote: true, checkQuorum: true,
    maxSizePerMsg: 1 << 20, maxInflightMsgs: 256
  })]))
  let applied = 0
  let readies = 0
  const queue: Message[] = []
  const drain = (): void => {
    // bounded: each round delivers what the previous one produced; a quiet cluster stops
    for (let round = 0; round < 1000; round++) {
      for (const [id, n] of nodes) {
        while (n.hasReady()) {
          const rd = n.ready()
          readies++
          if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
            (storages.get(id) as RaftStorage).save({ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot })
          }
          for (const m of rd.messages) queue.push(m)
          for (const e of rd.committedEntries) {
            if (e.type === 'conf') n.applyConfChange(e)
            if (id === 'n1' && e.data.length > 0) applied++
          }
          n.advance(rd)
        }
      }
      if (queue.length === 0) return
      const batchMsgs = queue.splice(0, queue.length)
      for (const m of batchMsgs) (nodes.get(m.to) as RawNode).step(m)
    }
    throw new Error('bench cluster did not settle')
  }
  const leader = nodes.get('n1') as RawNode
  leader.campaign()
  drain()
  if (leader.status().role !== 'leader') throw new Error('n1 did not become leader')
  const payloads = Array.from({ length: batch }, (_, i) => { const b = new Uint8Array(size); b[0] = i & 0xff; return b })
  const t0 = process.hrtime.bigint()
  const deadline = t0 + BigInt(Math.round(seconds * 1e9))
  const start = applied
  let rounds = 0
  while (process.hrtime.bigint() < deadline) {
    leader.proposeBatch(payloads)
    drain()
    if (++rounds % 10 === 0) { for (const n of nodes.values()) n.tick(); drain() }
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  for (const s of storages.values()) s.close()
  const committed = applied - start
  return { storage: storageName, batch, entrySize: size, seconds: Number(secs.toFixed(2)), committed, entriesPerSec: Math.round(committed / secs), readiesPerSec: Math.round(readies / secs) }
}

const results: BenchResult[] = []
for (const batch of [1, 64, 1024]) results.push(run('memory', () => new MemoryStorage({ conf: CONF }), batch))

const sqlitePath = new URL('../src/node/raft/sqlite-storage.ts', import.meta.url)
if (existsSync(sqlitePath)) {
  const mod = await import('../src/node/raft/sqlite-storage.js') as { SqliteStorage: new (path: string, opts?: { conf?: ConfState }) => RaftStorage }
  for (const batch of [1, 64, 1024]) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-raft-'))
    try {
      results.push(run('sqlite', id => new mod.SqliteStorage(join(dir, `${id}.db`), { conf: CONF }), batch))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
console.log(JSON.stringify({ bench: 'raft-3-node-in-process', nodeVersion: process.version, results }, null, 1))
