// scripts/bench: throughput, latency and memory of a real cluster of node processes on loopback.
// Prints one JSON object. Usage: npx tsx scripts/bench.ts [--nodes 3] [--tasks 10000] [--latency 200] [--batch 1000]
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startProcCluster, waitForLeader, sleep, type NodeProc } from './lib/proc-cluster.js'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    tasks: { type: 'string', default: '10000' },
    latency: { type: 'string', default: '200' },
    batch: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '5' },
    'time-limit': { type: 'string', default: '300' }
  }
})
const N = Number(values.nodes)
const TASKS = Number(values.tasks)
const LAT = Number(values.latency)
const BATCH = Number(values.batch)
const CONC = Number(values.concurrency)
const LIMIT_MS = Number(values['time-limit']) * 1000

async function main (): Promise<void> {
  const started = Date.now()
  const procs = await startProcCluster({ nodes: N, baseDir: join(tmpdir(), `rc-bench-${process.pid}`) })
  const peakRss = new Map<string, number>()
  const sampler = setInterval(() => { for (const p of procs) peakRss.set(p.name, Math.max(peakRss.get(p.name) ?? 0, p.rssMb() ?? 0)) }, 100)
  try {
    const leader = await waitForLeader(procs, 60_000)
    const follower = procs.find(p => p !== leader)!
    await sleep(2000) // let bids settle so every device is schedulable
    const idleRss = Object.fromEntries(procs.map(p => [p.name, round(p.rssMb() ?? 0)]))

    // warm-up
    await runBatches(follower, 500, 500, 2)

    // throughput: TASKS echo tasks in batches, CONC batches in flight, from a follower
    const cpu0 = procs.map(p => cpuSeconds(p.pid!))
    const t0 = performance.now()
    await runBatches(follower, TASKS, BATCH, CONC)
    const seconds = (performance.now() - t0) / 1000
    const cpuUsed = procs.map((p, i) => cpuSeconds(p.pid!) - cpu0[i]!)

    // latency: sequential submit → result
    const lat: number[] = []
    for (let i = 0; i < LAT && Date.now() - started < LIMIT_MS; i++) {
      const t = performance.now()
      const sub = await follower.api('POST', '/v1/tasks', { task_type: 'echo', payload: { i } })
      if (sub.status !== 201) throw new Error(`submit failed: ${sub.status} ${JSON.stringify(sub.body)}`)
      const res = await follower.api('GET', `/v1/tasks/${sub.body.id}/wait?timeoutMs=10000`)
      if (res.body?.status !== 'completed') throw new Error(`task ${sub.body.id} ended ${res.body?.status}`)
      lat.push(performance.now() - t)
    }
    lat.sort((a, b) => a - b)
    const leaderStatus = await leader.api('GET', '/v1/nodes')
    console.log(JSON.stringify({
      nodes: N,
      tasks: TASKS,
      batchSize: BATCH,
      batchesInFlight: CONC,
      seconds: round(seconds),
      tasksPerSec: round(TASKS / seconds),
      // CPU the node processes spent on the throughput run (user + system), and per task
      cpuSeconds: Object.fromEntries(procs.map((p, i) => [p.name, round(cpuUsed[i]!)])),
      cpuMicrosPerTask: round(cpuUsed.reduce((a, b) => a + b, 0) / TASKS * 1e6),
      latencyMs: { samples: lat.length, p50: round(pct(lat, 0.5)), p99: round(pct(lat, 0.99)), max: round(lat[lat.length - 1] ?? 0) },
      idleRssMb: idleRss,
      peakRssMb: Object.fromEntries([...peakRss].map(([k, v]) => [k, round(v)])),
      devices: (leaderStatus.body as any[]).map(n => ({ name: n.name, isLeader: n.isLeader, active: n.activeTasks }))
    }, null, 2))
  } finally {
    clearInterval(sampler)
    await Promise.all(procs.map(async p => { await p.stop() }))
  }
}

/**
 * Submit `total` echo tasks in batches of `size` (at most `conc` submissions in flight, as a
 * producer would), then wait until every batch has finished.
 */
async function runBatches (p: NodeProc, total: number, size: number, conc: number): Promise<void> {
  const ids: Array<{ id: string, n: number }> = []
  let next = 0
  const submitter = async (): Promise<void> => {
    while (next < total) {
      const n = Math.min(size, total - next)
      next += n
      const tasks = Array.from({ length: n }, (_, i) => ({ task_type: 'echo', payload: { i } }))
      const res = await p.api('POST', '/v1/batches', { name: 'bench', tasks }, 60_000)
      if (res.status !== 201) throw new Error(`batch submit failed: ${res.status} ${JSON.stringify(res.body)}`)
      ids.push({ id: res.body.id, n })
    }
  }
  await Promise.all(Array.from({ length: conc }, submitter))
  const deadline = Date.now() + 300_000
  for (const { id, n } of ids) {
    for (;;) {
      const pr = await p.api('GET', `/v1/batches/${id}`)
      if (pr.body.completed + pr.body.failed + (pr.body.cancelled ?? 0) >= n) {
        if (pr.body.failed > 0) throw new Error(`${pr.body.failed} tasks failed`)
        break
      }
      if (Date.now() > deadline) throw new Error(`batch ${id} stuck: ${JSON.stringify(pr.body)}`)
      await sleep(20)
    }
  }
}

/** user + system CPU seconds of a process, from /proc (Linux) */
function cpuSeconds (pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[11]) + Number(rest[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
  } catch { return 0 }
}

const pct = (a: number[], q: number): number => a.length === 0 ? 0 : a[Math.min(a.length - 1, Math.floor(q * a.length))]!
const round = (x: number): number => Math.round(x * 10) / 10

main().catch(err => { console.error(err); process.exit(1) })
