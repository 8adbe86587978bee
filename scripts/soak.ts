// A long-running cluster stays bounded (issue 14): N echo tasks (default 1,000,000) through 3 real
// node processes with a short result retention, tabulating every --every tasks each node's RSS, the
// snapshot size, raft.db and history.db sizes (with their -wal files) and the live records, and at
// the end the restart time of a follower (SIGTERM → start → caught up with the leader's commit).
// Bounded by count and by time (--max-minutes): it stops submitting at either.
//
//   npm run build && node dist/scripts/soak.js [--tasks 1000000] [--every 100000] [--retention 60s]
//     [--batch 2000] [--inflight 6] [--max-minutes 120] [--json out.json]
//
// "Flat" means: after the first retention period, the live records stay near rate × retention and
// RSS, snapshot and file sizes stop growing with the number of tasks run (see docs/concepts.md).
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { startProcCluster, waitForLeader, sleep, type NodeProc } from './lib/proc-cluster.js'

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '1000000' },
    every: { type: 'string', default: '100000' },
    retention: { type: 'string', default: '60s' },
    'history-retention': { type: 'string', default: '120s' },
    batch: { type: 'string', default: '2000' },
    inflight: { type: 'string', default: '6' },
    'max-minutes': { type: 'string', default: '120' },
    json: { type: 'string' }
  }
})
const TASKS = Number(values.tasks)
const EVERY = Number(values.every)
const BATCH = Number(values.batch)
const INFLIGHT = Number(values.inflight)
const DEADLINE = Date.now() + Number(values['max-minutes']) * 60_000

interface Row { tasks: number, elapsedS: number, node: string, rssMb: number, heapMb: number, externalMb: number, snapshotMb: number, raftDbMb: number, historyDbMb: number, liveTasks: number, evicted: number, appliedIndex: number }

const mb = (b: number): number => Math.round(b / 1048576 * 10) / 10
function fileBytes (p: string): number {
  let n = 0
  for (const f of [p, `${p}-wal`, `${p}-shm`]) if (existsSync(f)) n += statSync(f).size
  return n
}
/** raft.db with its -wal and -shm, and its snapshot files */
function raftBytes (dir: string): number {
  let n = fileBytes(join(dir, 'raft.db'))
  for (const f of readdirSync(dir)) if (f.startsWith('raft.db.snap-')) { try { n += statSync(join(dir, f)).size } catch { /* replaced meanwhile */ } }
  return n
}
function snapshotBytes (dir: string): number {
  try {
    const db = new Database(join(dir, 'raft.db'), { readonly: true, fileMustExist: true })
    try {
      // a snapshot the node took while running is in a file of its own the row names (sqlite-storage.ts)
      const r = db.prepare('SELECT * FROM snapshot').get() as { data: Buffer, file?: string | null } | undefined
      if (r?.file != null) return statSync(join(dir, r.file)).size
      return r?.data.byteLength ?? 0
    } finally { db.close() }
  } catch { return -1 }
}

/** the V8 heap in use and the memory of C++ objects (buffers), from the node's /metrics: what RSS holds beyond them is freed heap V8 keeps, sqlite's caches and code */
async function processMemory (p: NodeProc): Promise<{ heap: number, external: number }> {
  try {
    const text = await (await fetch(`${p.apiUrl}/metrics`, { headers: { authorization: `Bearer ${p.token}` } })).text()
    const num = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? -1048576)
    return { heap: num('nodejs_heap_size_used_bytes'), external: num('nodejs_external_memory_bytes') }
  } catch { return { heap: -1048576, external: -1048576 } }
}

async function sample (procs: NodeProc[], done: number, t0: number): Promise<Row[]> {
  const rows: Row[] = []
  for (const p of procs) {
    const st = await p.api<{ raft: { appliedIndex: number } }>('GET', '/v1/status')
    const q = await p.api<{ stored: number, evicted: number }>('GET', '/v1/queue')
    const m = await processMemory(p)
    rows.push({
      tasks: done, elapsedS: Math.round((Date.now() - t0) / 1000), node: p.name, rssMb: Math.round(p.rssMb() ?? -1),
      heapMb: Math.round(m.heap / 1048576), externalMb: Math.round(m.external / 1048576),
      snapshotMb: mb(snapshotBytes(p.opts.dataDir)), raftDbMb: mb(raftBytes(p.opts.dataDir)),
      historyDbMb: mb(fileBytes(join(p.opts.dataDir, 'history.db'))),
      liveTasks: q.body?.stored ?? -1, evicted: q.body?.evicted ?? -1,
      appliedIndex: st.body?.raft.appliedIndex ?? -1
    })
  }
  return rows
}

function print (rows: Row[]): void {
  for (const r of rows) {
    console.log([String(r.tasks).padStart(8), String(r.elapsedS).padStart(6), r.node.padEnd(6), String(r.rssMb).padStart(6), String(r.heapMb).padStart(7), String(r.externalMb).padStart(6),
      String(r.snapshotMb).padStart(8), String(r.raftDbMb).padStart(8), String(r.historyDbMb).padStart(8), String(r.liveTasks).padStart(8),
      String(r.evicted).padStart(8)].join(' | '))
  }
}

async function main (): Promise<void> {
  const baseDir = join(tmpdir(), `rc-soak-${process.pid}`)
  const procs = await startProcCluster({
    nodes: 3, baseDir,
    extraArgs: () => ['--retention', values.retention!, '--history-retention', values['history-retention']!]
  })
  const all: Row[] = []
  let restartMs = -1
  try {
    await waitForLeader(procs)
    await sleep(2000) // bids
    const submitter = procs[1]!
    console.log(`soak: ${TASKS} echo tasks, batches of ${BATCH}, ${INFLIGHT} in flight, retention ${values.retention}; data in ${baseDir}`)
    console.log('   tasks |   secs | node   | RSS MB | heap MB | ext MB |  snap MB |  raft MB |  hist MB |   stored |  evicted')
    const t0 = Date.now()
    let submitted = 0
    let finished = 0
    let nextSample = EVERY
    const inflight = new Set<Promise<void>>()
    let batchSeq = 0
    const runBatch = async (n: number): Promise<void> => {
      const tasks = Array.from({ length: n }, (_, i) => ({ task_type: 'echo', payload: { i } }))
      // an explicit batch id: a submit retried after a transient error (the machine is shared and
      // slow) is either a 409 (the first went through) or goes through now, never twice
      const id = `soak-${process.pid}-${++batchSeq}`
      for (let tries = 0; ; tries++) {
        const res = await submitter.api('POST', '/v1/batches', { id, name: 'soak', tasks }, 60_000).catch(() => ({ status: 0, body: undefined }))
        if (res.status === 201 || res.status === 409) break
        if (tries >= 20 || (res.status !== 0 && res.status < 500)) throw new Error(`batch submit failed: ${res.status} ${JSON.stringify(res.body)}`)
        await sleep(500)
      }
      for (;;) {
        await sleep(200)
        const pr = await submitter.api('GET', `/v1/batches/${id}`).catch(() => ({ status: 0, body: undefined as any }))
        if (pr.status === 410) break // finished and already evicted
        if (pr.status === 200 && pr.body.completed + pr.body.failed + (pr.body.cancelled ?? 0) >= n) break
      }
      finished += n
    }
    while (finished < TASKS && Date.now() < DEADLINE) {
      while (submitted < TASKS && inflight.size < INFLIGHT && Date.now() < DEADLINE) {
        const n = Math.min(BATCH, TASKS - submitted)
        submitted += n
        const p = runBatch(n)
        inflight.add(p)
        void p.finally(() => { inflight.delete(p) })
      }
      if (inflight.size === 0) break
      await Promise.race(inflight)
      if (finished >= nextSample) {
        const rows = await sample(procs, finished, t0)
        print(rows); all.push(...rows)
        nextSample += EVERY
      }
    }
    await Promise.all(inflight)
    // one retention later everything run so far should be evicted: the floor of a quiet cluster
    const idleWaitMs = 70_000
    console.log(`all ${finished} done in ${Math.round((Date.now() - t0) / 1000)} s; waiting ${idleWaitMs / 1000} s (a retention) for eviction, then sampling`)
    await sleep(idleWaitMs)
    const rows = await sample(procs, finished, t0)
    print(rows); all.push(...rows)
    // and once more after the idle GC (a node quiet for 30 s after the last eviction collects: idle-gc.ts)
    await sleep(45_000)
    const later = await sample(procs, finished, t0)
    print(later); all.push(...later)

    // restart a follower: time from start to caught up with the leader
    const leader = await waitForLeader(procs)
    const f = procs.find(p => p !== leader)!
    await f.stop()
    const r0 = Date.now()
    await f.start(60_000)
    const startedMs = Date.now() - r0
    const target = (await leader.api<{ raft: { commitIndex: number } }>('GET', '/v1/status')).body.raft.commitIndex
    for (;;) {
      const st = await f.api<{ raft: { appliedIndex: number } }>('GET', '/v1/status').catch(() => undefined)
      if (st !== undefined && st.body.raft.appliedIndex >= target) break
      if (Date.now() - r0 > 120_000) throw new Error('restarted node did not catch up in 120 s')
      await sleep(50)
    }
    restartMs = Date.now() - r0
    console.log(`restart of ${f.name}: ${restartMs} ms to started and caught up (applied ≥ ${target}); node.json written (API up) at +${startedMs} ms`)
    // where the time went: the node's own log lines since the spawn, as +ms
    for (const line of f.logTail(60).split('\n')) {
      const t = Date.parse(line.slice(0, 24))
      if (Number.isFinite(t) && t >= r0) console.log(`  +${String(t - r0).padStart(6)} ms ${line.slice(25, 200)}`)
    }
  } finally {
    await Promise.all(procs.map(async p => { await p.stop() }))
    if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ rows: all, restartMs }, null, 2))
  }
}

main().catch(err => { console.error(err); process.exit(1) })
