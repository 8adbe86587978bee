// Micro-benchmarks of the protocol codec and the durable Raft storage. Prints JSON.
//   npx tsx scripts/bench-storage.ts [--dir DIR]
// - codec: encode + decode (with full schema validation) of a 100-task submit message, µs per op
// - storage: SqliteStorage.save throughput at batch sizes 1, 64, 512 with synchronous=FULL (fsync on
//   every commit), entries of 256 bytes, on a fresh file in DIR (default: the OS temp dir)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { decode, encode } from '../src/protocol/codec.js'
import { CLIENT_MESSAGES } from '../src/protocol/messages.js'
import { SqliteStorage } from '../src/node/raft/sqlite-storage.js'
import type { TaskData } from '../src/sched/types.js'
import type { Entry } from '../src/protocol/raft/types.js'

function sampleTask (i: number): TaskData {
  return {
    id: `01J${String(i).padStart(23, '0')}`,
    taskType: 'echo',
    payload: { message: `hello ${i}`, n: i },
    priority: 3,
    requirements: {
      minCpuCores: 1, minMemoryGb: 0, minStorageGb: 0, timeoutSeconds: 300, maxRetries: 3, requiresInternet: false,
      bandwidthMbps: 0, requiresGpu: false, requiresSensors: [], exclusive: false, excludeDevices: []
    },
    requiredPermissions: [],
    retryCount: 0,
    createdAt: 1_700_000_000_000 + i
  }
}

function benchCodec (): Record<string, number> {
  const body = { reqId: 1, requestId: 'client-1', principal: 'admin', tasks: Array.from({ length: 100 }, (_, i) => sampleTask(i)) }
  const bytes = encode('submit', body)
  for (let i = 0; i < 500; i++) decode(encode('submit', body), CLIENT_MESSAGES) // warm up the JIT
  const n = 3000
  let t = performance.now()
  for (let i = 0; i < n; i++) encode('submit', body)
  const encUs = (performance.now() - t) * 1000 / n
  t = performance.now()
  for (let i = 0; i < n; i++) decode(bytes, CLIENT_MESSAGES)
  const decUs = (performance.now() - t) * 1000 / n
  return { bytes: bytes.byteLength, encodeUs: round(encUs), decodeValidateUs: round(decUs), totalUs: round(encUs + decUs), perTaskUs: round((encUs + decUs) / 100) }
}

function benchSave (dir: string, batch: number, totalEntries: number): Record<string, number> {
  const path = join(dir, `bench-${batch}.db`)
  const s = new SqliteStorage(path, { conf: { voters: ['a'], learners: [] } })
  const data = new Uint8Array(256).fill(7)
  let next = 1
  const saves = Math.max(1, Math.floor(totalEntries / batch))
  const t = performance.now()
  for (let k = 0; k < saves; k++) {
    const entries: Entry[] = []
    for (let i = 0; i < batch; i++) entries.push({ index: next + i, term: 1, type: 'normal', data })
    s.save({ entries, hardState: { term: 1, vote: 'a', commit: next + batch - 1 } })
    next += batch
  }
  const sec = (performance.now() - t) / 1000
  s.close()
  return { batch, saves, entries: saves * batch, seconds: round(sec), savesPerSec: Math.round(saves / sec), entriesPerSec: Math.round(saves * batch / sec), msPerSave: round(sec * 1000 / saves) }
}

const round = (x: number): number => Math.round(x * 100) / 100

function main (): void {
  const i = process.argv.indexOf('--dir')
  const base = i > 0 ? process.argv[i + 1] : tmpdir()
  const dir = mkdtempSync(join(base, 'rc-bench-storage-'))
  try {
    const codec = benchCodec()
    const storage = [benchSave(dir, 1, 1000), benchSave(dir, 64, 32_000), benchSave(dir, 512, 102_400)]
    console.log(JSON.stringify({ node: process.version, dir: base, codec100TaskSubmit: codec, sqliteSaveFsyncFull: storage }, null, 2))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main()
