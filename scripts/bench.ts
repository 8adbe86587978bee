// scripts/bench: throughput, latency and memory of a real cluster of node processes on loopback.
// Prints one JSON object. Usage:
//   node dist/scripts/bench.js [--mode all|batch|single|latency] [--nodes 3] [--tasks 10000]
//     [--batch 2000] [--concurrency 5] [--single-concurrency 64] [--latency 200] [--breakdown]
//     [--peer bullmq|bullmq-durable|nats|rabbitmq|all] [--bare] [--idle-seconds 10] [--runs 3]
// As the peers do (../shared/peers: 200 tasks of warm-up, then 3 runs, the median reported), the
// cluster first runs 1,000 tasks in batches, 200 one per request and 20 one at a time, then each
// shape --runs times: throughput figures are the run with the median tasks/s (every run's figure in
// runsTasksPerSec), latency the median over the runs of each run's p50, p99 and max, each run after
// 20 untimed tasks.
// batch: TASKS echo tasks in batches of --batch, --concurrency batches in flight (POST /v1/batches).
// single: TASKS echo tasks, one per POST /v1/tasks, --single-concurrency requests in flight, each
//   then awaited (GET /v1/tasks/:id/wait): the path users take one task at a time. Two shapes:
//   `single`, 64 clients that each submit and wait for the result before the next submit (a
//   closed loop: throughput = 64 / latency under load); and `singlePipelined`, the peers' shape
//   (../shared/peers: every task its own call, all in flight, every result checked): the same
//   64 requests in flight submit everything, then every result is awaited, 64 waits in flight; and
//   `singleStreamed`, the peers' shape as they run it: the results come over one event stream
//   opened first (ApiClient.openResults, as BullMQ's QueueEvents), one request per task; and
//   `singleOneConnection`, as a Redis, AMQP or NATS client submits: every task its own submit and
//   answer, 64 in flight on one connection (ApiClient.openSubmissions), outcomes over one stream.
// latency: --latency sequential submit → result round trips on a follower; with --breakdown (the
//   default when the mode is latency alone; --no-breakdown turns it off) the nodes run with
//   RC_TRACE=1 and the output gives the median µs of every hop (see src/node/trace.ts). Tracing
//   costs time: compare latencies traced with traced and untraced with untraced.
// startup (--startup-runs fresh clusters, default 3; 0 skips it in `all`): firstLeaderMs, from the
//   spawn of the last of N fresh nodes started with --bootstrap-expect N (the first node is up, the
//   others are spawned at once and bootstrap to it) until every node names the same leader; and
//   joinToWorkMs, from the spawn of one more node (bootstrap address, default --bootstrap-expect 1)
//   until a task that excludes every earlier device, submitted just before, has completed on it.
// --build bundle (default): the nodes run the bundle the published package runs (dist/pkg, made by
//   scripts/bundle.mjs for the run and removed after it): what `npm install -g retire-cluster` users
//   get, ~20 MB less RSS per node and ~0.5 s faster to start than tsc's many files; --build tsc runs
//   the checkout's dist/src, as the tests do.
// idleCpuPercent: CPU of each node over --idle-seconds (default 10) once the cluster has been quiet
//   for 8 s after its first leader (earlier, startup's compiling and first bids still show).
//   idleRssMb is RSS at the start of that window, settledRssMb at its end: V8 gives startup's
//   garbage back in between (on the bundle, 84-85 MB at 8 s, 77-80 MB at 18 s, then creeping up
//   with the idle node's allocations until a collection). --bare runs scripts/bench-bare.ts after
//   ours: three bare libp2p + gossipsub hosts measured the same way, and our ratios to them.
// idleWakeupsPerSec: how often each node's main thread was woken over that window (voluntary
//   context switches, /proc/<pid>/status): an idle phone's battery goes by wake-ups more than by CPU.
// cpuMicrosPerTask is the node processes' CPU; clientCpuMicrosPerTask the bench's own (its HTTP
//   requests go through the project's ApiClient, as a user's TypeScript program would): on 2 cores the
//   client competes with the nodes, as the peers' clients do with theirs.
// --peer runs ../shared/peers/run.sh NAME after our run (same machine, minutes apart) and prints its
// JSON line and our ratios beside it. Absolute figures move 2-3x from hour to hour here: compare ratios.
import { execFileSync } from 'node:child_process'
import { closeSync, existsSync, fsyncSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { cpuSeconds, ioCalls, startProcCluster, waitForLeader, sleep, wakeups, NodeProc } from './lib/proc-cluster.js'

const USAGE = `usage: node dist/scripts/bench.js [--mode all|batch|single|latency|startup] [--nodes 3]
  [--tasks 10000] [--batch 2000] [--concurrency 5] [--single-concurrency 64] [--latency 200]
  [--breakdown | --no-breakdown] [--peer bullmq|bullmq-durable|nats|rabbitmq|all] [--bare] [--idle-seconds 10]
  [--runs 3] [--startup-runs 3] [--build bundle|tsc] [--time-limit 300]
Prints one JSON object: throughput, CPU, system calls and wake-ups per task, latency, idle CPU and
memory of a real cluster on loopback (what each figure means: the comment at the top of
scripts/bench.ts; past runs and how to read them: docs/performance.md).`

// an unknown or malformed flag: its message and the usage, not a stack trace
const { values } = (() => {
  try {
    return parseArgs({
      options: {
        help: { type: 'boolean', short: 'h' },
        mode: { type: 'string', default: 'all' },
        nodes: { type: 'string', default: '3' },
        tasks: { type: 'string', default: '10000' },
        latency: { type: 'string', default: '200' },
        batch: { type: 'string', default: '2000' },
        concurrency: { type: 'string', default: '5' },
        'single-concurrency': { type: 'string', default: '64' },
        breakdown: { type: 'boolean' },
        'no-breakdown': { type: 'boolean' },
        peer: { type: 'string' },
        build: { type: 'string', default: 'bundle' },
        'time-limit': { type: 'string', default: '300' },
        'idle-seconds': { type: 'string', default: '10' },
        bare: { type: 'boolean' },
        'startup-runs': { type: 'string', default: '3' },
        runs: { type: 'string', default: '3' }
      }
    })
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${USAGE}`)
    process.exit(2)
  }
})()
if (values.help === true) { console.log(USAGE); process.exit(0) }

const MODE = values.mode as string
if (!['all', 'batch', 'single', 'latency', 'startup'].includes(MODE)) throw new Error(`--mode: all, batch, single, latency or startup, not ${MODE}`)
const N = Number(values.nodes)
const TASKS = Number(values.tasks)
const LAT = Number(values.latency)
const BATCH = Number(values.batch)
const CONC = Number(values.concurrency)
const SINGLE_CONC = Number(values['single-concurrency'])
const LIMIT_MS = Number(values['time-limit']) * 1000
const IDLE_S = Number(values['idle-seconds'])
if (!(IDLE_S > 0)) throw new Error(`--idle-seconds: a positive number, not ${String(values['idle-seconds'])}`)
if (values.breakdown === true && values['no-breakdown'] === true) throw new Error('--breakdown and --no-breakdown: one or the other')
const BREAKDOWN = values['no-breakdown'] === true ? false : (values.breakdown ?? MODE === 'latency')
const RUNS = Number(values.runs)
if (!(Number.isInteger(RUNS) && RUNS >= 1)) throw new Error(`--runs: a count of at least 1, not ${String(values.runs)}`)
const STARTUP_RUNS = Number(values['startup-runs'])
if (!(STARTUP_RUNS >= 0) || (MODE === 'startup' && STARTUP_RUNS === 0)) throw new Error(`--startup-runs: a count (at least 1 with --mode startup), not ${String(values['startup-runs'])}`)
const runs = (m: string): boolean => MODE === 'all' || MODE === m
const BUILD = values.build as string
if (!['bundle', 'tsc'].includes(BUILD)) throw new Error(`--build: bundle or tsc, not ${BUILD}`)
const HERE = dirname(fileURLToPath(import.meta.url))
/** the checkout: this file runs from scripts/ (tsx) or dist/scripts/ (tsc) */
const ROOT = resolve(HERE, existsSync(join(HERE, '../package.json')) ? '..' : '../..')

async function main (): Promise<void> {
  const started = Date.now()
  if (BREAKDOWN) process.env.RC_TRACE = '1' // inherited by the node processes
  const fsyncMs = measureFsyncMs()
  // bin/retire-cluster.js runs dist/pkg where it exists, dist/src otherwise
  execFileSync(process.execPath, [join(ROOT, 'scripts/bundle.mjs'), ROOT, ...(BUILD === 'bundle' ? [] : ['--clean'])], { stdio: 'inherit' })
  const out: Record<string, unknown> = { nodes: N, mode: MODE, build: BUILD, fsync4kMs: fsyncMs }
  try {
    if (MODE !== 'startup') await measureCluster(out, started)
    if (runs('startup') && STARTUP_RUNS > 0) out.startup = await measureStartup(STARTUP_RUNS)
  } finally {
    // a checkout keeps running tsc's output (the tests, the demo)
    if (BUILD === 'bundle') execFileSync(process.execPath, [join(ROOT, 'scripts/bundle.mjs'), ROOT, '--clean'], { stdio: 'inherit' })
  }
  if (values.bare === true && MODE !== 'startup') out.bare = runBare(out)
  if (values.peer !== undefined) out.peers = runPeers(values.peer, out)
  console.log(JSON.stringify(out, null, 2))
}

/** the one cluster the throughput, latency and idle figures come from */
async function measureCluster (out: Record<string, unknown>, started: number): Promise<void> {
  const procs = await startProcCluster({ nodes: N, baseDir: join(tmpdir(), `rc-bench-${process.pid}`) })
  const peakRss = new Map<string, number>()
  const sampler = setInterval(() => { for (const p of procs) peakRss.set(p.name, Math.max(peakRss.get(p.name) ?? 0, p.rssMb() ?? 0)) }, 100)
  try {
    const leader = await waitForLeader(procs, 60_000)
    const follower = procs.find(p => p !== leader)!
    await sleep(8000) // bids settle (every device schedulable) and startup's work is over
    out.idleRssMb = Object.fromEntries(procs.map(p => [p.name, round(p.rssMb() ?? 0)]))
    const cpuIdle0 = procs.map(p => cpuSeconds(p.pid!))
    const wakeups0 = procs.map(p => wakeups(p.pid!))
    await sleep(IDLE_S * 1000)
    out.idleCpuPercent = Object.fromEntries(procs.map((p, i) => [p.name, Math.round((cpuSeconds(p.pid!) - cpuIdle0[i]!) / IDLE_S * 100 * 100) / 100]))
    out.idleWakeupsPerSec = Object.fromEntries(procs.map((p, i) => [p.name, round((wakeups(p.pid!) - wakeups0[i]!) / IDLE_S)]))
    out.idleSeconds = IDLE_S
    out.settledRssMb = Object.fromEntries(procs.map(p => [p.name, round(p.rssMb() ?? 0)]))

    // warm-up, as the peers do (../shared/peers: 200 tasks, then 20 one at a time): both paths
    // measured below run warm, not the first second of V8 compiling them
    await runBatches(follower, 500, 500, 2)
    await runSinglesPipelined(follower, 200, SINGLE_CONC)
    for (let i = 0; i < 20; i++) await awaitCompleted(follower, await submitOne(follower, i))

    if (runs('batch')) {
      out.batch = await measureRuns(procs, TASKS, async () => { await runBatches(follower, TASKS, BATCH, CONC) })
      Object.assign(out.batch as object, { batchSize: BATCH, batchesInFlight: CONC })
    }
    if (runs('single')) {
      out.single = await measureRuns(procs, TASKS, async () => { await runSingles(follower, TASKS, SINGLE_CONC) })
      Object.assign(out.single as object, { requestsInFlight: SINGLE_CONC })
      out.singlePipelined = await measureRuns(procs, TASKS, async () => { await runSinglesPipelined(follower, TASKS, SINGLE_CONC) })
      Object.assign(out.singlePipelined as object, { requestsInFlight: SINGLE_CONC })
      out.singleStreamed = await measureRuns(procs, TASKS, async () => { await runSinglesStreamed(follower, TASKS, SINGLE_CONC) })
      Object.assign(out.singleStreamed as object, { requestsInFlight: SINGLE_CONC })
      out.singleOneConnection = await measureRuns(procs, TASKS, async () => { await runSinglesOneConnection(follower, TASKS, SINGLE_CONC) })
      Object.assign(out.singleOneConnection as object, { requestsInFlight: SINGLE_CONC })
    }
    if (runs('latency')) {
      if (BREAKDOWN) await Promise.all(procs.map(async p => await p.api('GET', '/v1/debug/trace'))) // forget earlier marks
      const ids: string[] = []
      const perRun: Array<{ p50: number, p99: number, max: number, samples: number }> = []
      for (let r = 0; r < RUNS; r++) {
        // untimed settle after the bursts before, as the peers do
        for (let i = 0; i < 20; i++) await awaitCompleted(follower, await submitOne(follower, i))
        const lat: number[] = []
        for (let i = 0; i < LAT && Date.now() - started < LIMIT_MS; i++) {
          const t = performance.now()
          const sub = await follower.api('POST', '/v1/tasks', { task_type: 'echo', payload: { i } })
          if (sub.status !== 201) throw new Error(`submit failed: ${sub.status} ${JSON.stringify(sub.body)}`)
          const res = await follower.api('GET', `/v1/tasks/${sub.body.id}/wait?timeoutMs=10000`)
          if (res.body?.status !== 'completed') throw new Error(`task ${sub.body.id} ended ${res.body?.status}`)
          lat.push(performance.now() - t)
          ids.push(sub.body.id)
        }
        lat.sort((a, b) => a - b)
        perRun.push({ samples: lat.length, p50: round(pct(lat, 0.5)), p99: round(pct(lat, 0.99)), max: round(lat[lat.length - 1] ?? 0) })
      }
      // the median of each figure over the runs (the peers' way)
      const med = (f: (x: typeof perRun[number]) => number): number => pct(perRun.map(f).sort((a, b) => a - b), 0.5)
      out.latencyMs = { samples: perRun.reduce((a, x) => a + x.samples, 0), p50: med(x => x.p50), p99: med(x => x.p99), max: med(x => x.max), runs: RUNS, eachRun: perRun }
      if (BREAKDOWN) out.hopsMedianMicros = await hopBreakdown(procs, leader, follower, ids)
    }
    out.peakRssMb = Object.fromEntries([...peakRss].map(([k, v]) => [k, round(v)]))
    // leader changes each node saw (1 is the first election): more means the cluster lost its
    // leader under the load (a snapshot that held the event loop past the election timeout did)
    out.raftLeaderChanges = Object.fromEntries(await Promise.all(procs.map(async p => [p.name, (await p.api<any>('GET', '/v1/status')).body?.raft?.leaderChanges])))
    const leaderStatus = await leader.api('GET', '/v1/nodes')
    out.devices = (leaderStatus.body as any[]).map(n => ({ name: n.name, isLeader: n.isLeader, active: n.activeTasks }))
  } finally {
    clearInterval(sampler)
    await Promise.all(procs.map(async p => { await p.stop() }))
  }
}

/**
 * Start-up figures of fresh clusters (see the header): `runs` clusters one after another, each in
 * a fresh directory, torn down with SIGKILL (nothing of them is reused).
 */
async function measureStartup (runs: number): Promise<Record<string, unknown>> {
  const firstLeaderMs: number[] = []
  const joinToWorkMs: number[] = []
  for (let r = 0; r < runs; r++) {
    const baseDir = join(tmpdir(), `rc-bench-startup-${process.pid}-${r}`)
    const procs: NodeProc[] = []
    try {
      procs.push(...await startProcCluster({ nodes: N, baseDir }))
      const lastSpawn = Math.max(...procs.map(p => p.spawnedAt))
      await waitForLeader(procs, 30_000, 10)
      firstLeaderMs.push(performance.now() - lastSpawn)
      // every device has bid (a task that excludes them all must wait for the newcomer)
      const known = await procs[0]!.api<any[]>('GET', '/v1/nodes')
      const ids = (known.body ?? []).map((n: any) => n.id as string)
      if (ids.length < N) throw new Error(`startup: ${ids.length} of ${N} devices known after the leader`)
      const sub = await procs[1]!.api('POST', '/v1/tasks', { task_type: 'echo', payload: { join: r }, requirements: { exclude_devices: ids } })
      if (sub.status !== 201) throw new Error(`startup: submit failed: ${sub.status} ${JSON.stringify(sub.body)}`)
      const joiner = new NodeProc({ name: `node${N + 1}`, dataDir: join(baseDir, `node${N + 1}`), bootstrap: procs[0]!.info!.multiaddrs })
      procs.push(joiner)
      // start() resolves once the node wrote its node.json, which may come after the task is done;
      // a node that fails to start ends the wait at once
      const starting = joiner.start()
      starting.catch(() => {}) // awaited below
      await Promise.race([awaitCompleted(procs[1]!, sub.body.id), starting.then(async () => await new Promise<never>(() => {}))])
      joinToWorkMs.push(performance.now() - joiner.spawnedAt)
      await starting
      const rec = await procs[1]!.api('GET', `/v1/tasks/${sub.body.id}`)
      if (rec.body?.deviceId !== joiner.peerId) throw new Error(`startup: the task ran on ${String(rec.body?.deviceId)}, not on the node that joined`)
    } finally {
      await Promise.all(procs.map(async p => { await p.kill9() }))
      rmSync(baseDir, { recursive: true, force: true })
    }
  }
  const summary = (xs: number[]): Record<string, number> => {
    const s = [...xs].sort((a, b) => a - b)
    return { median: round(pct(s, 0.5)), max: round(s[s.length - 1] ?? 0) }
  }
  return {
    runs,
    firstLeaderMs: { ...summary(firstLeaderMs), each: firstLeaderMs.map(round) },
    joinToWorkMs: { ...summary(joinToWorkMs), each: joinToWorkMs.map(round) }
  }
}

/**
 * `--runs` runs of one shape, one after another; the run with the median throughput is reported
 * (its CPU figures with it), and every run's throughput and CPU beside it: the peers report the
 * median of 3 runs, and one run here moves ±15 % from the next.
 */
async function measureRuns (procs: NodeProc[], tasks: number, run: () => Promise<void>): Promise<Record<string, unknown>> {
  const each: Array<Record<string, unknown>> = []
  for (let r = 0; r < RUNS; r++) each.push(await measure(procs, tasks, run))
  const sorted = [...each].sort((a, b) => (a.tasksPerSec as number) - (b.tasksPerSec as number))
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!
  return {
    ...median,
    runs: RUNS,
    runsTasksPerSec: each.map(x => x.tasksPerSec),
    runsCpuMicrosPerTask: each.map(x => x.cpuMicrosPerTask)
  }
}

/** a node's Raft commit index (its /v1/status) */
async function commitIndex (p: NodeProc): Promise<number> {
  return Number((await p.api<any>('GET', '/v1/status')).body?.raft?.commitIndex ?? 0)
}

/** throughput and CPU of one run over all node processes */
async function measure (procs: NodeProc[], tasks: number, run: () => Promise<void>): Promise<Record<string, unknown>> {
  const cpu0 = procs.map(p => cpuSeconds(p.pid!))
  const io0 = procs.map(p => ioCalls(p.pid!))
  const wake0 = procs.map(p => wakeups(p.pid!))
  const entries0 = await commitIndex(procs[0]!)
  const client0 = process.cpuUsage()
  const t0 = performance.now()
  await run()
  const seconds = (performance.now() - t0) / 1000
  const cpuUsed = procs.map((p, i) => cpuSeconds(p.pid!) - cpu0[i]!)
  const client = process.cpuUsage(client0)
  const io = procs.map((p, i) => { const now = ioCalls(p.pid!); return { reads: now.reads - io0[i]!.reads, writes: now.writes - io0[i]!.writes } })
  const perTask = (xs: number[]): number => round(xs.reduce((a, b) => a + b, 0) / tasks)
  const entries = await commitIndex(procs[0]!) - entries0
  return {
    tasks,
    seconds: round(seconds),
    tasksPerSec: round(tasks / seconds),
    // CPU the node processes spent (user + system), and per task summed over the nodes
    cpuSeconds: Object.fromEntries(procs.map((p, i) => [p.name, round(cpuUsed[i]!)])),
    cpuMicrosPerTask: round(cpuUsed.reduce((a, b) => a + b, 0) / tasks * 1e6),
    // the bench's own client (HTTP requests, JSON) runs on the same cores as the nodes
    clientCpuMicrosPerTask: round((client.user + client.system) / tasks),
    // what the nodes' CPU per task is made of on a VM, where a system call or a wake-up is dear:
    // read and write calls (sockets and files, all threads) and main-thread wake-ups per task,
    // summed over the nodes
    syscallsPerTask: { reads: perTask(io.map(x => x.reads)), writes: perTask(io.map(x => x.writes)) },
    wakeupsPerTask: perTask(procs.map((p, i) => wakeups(p.pid!) - wake0[i]!)),
    // Raft log entries committed per task (the commit index moved): group commit packs the commands
    // of one turn into one entry, so this says how much of a run rode in shared entries
    entriesPerTask: Math.round(entries / tasks * 1000) / 1000
  }
}

/** one task per request, `conc` requests in flight, all submitted first; then every result is awaited, `conc` at a time */
async function runSinglesPipelined (p: NodeProc, total: number, conc: number): Promise<void> {
  const ids: string[] = []
  let next = 0
  const submitter = async (): Promise<void> => {
    while (next < total) {
      ids.push(await submitOne(p, next++))
    }
  }
  await Promise.all(Array.from({ length: conc }, submitter))
  let k = 0
  const waiter = async (): Promise<void> => {
    while (k < ids.length) {
      await awaitCompleted(p, ids[k++]!)
    }
  }
  await Promise.all(Array.from({ length: conc }, waiter))
}

/**
 * The peers' shape as they run it (BullMQ's QueueEvents, a RabbitMQ reply queue): one result
 * stream opened first, then one POST per task with `conc` in flight, every outcome taken from the
 * stream (ApiClient.openResults) and checked.
 */
async function runSinglesStreamed (p: NodeProc, total: number, conc: number): Promise<void> {
  await submitAndCollect(p, total, conc, async i => await submitOne(p, i))
}

/**
 * As a Redis, AMQP or NATS client submits: every task its own submit and answer, `conc` in flight,
 * all on one connection (ApiClient.openSubmissions), the outcomes over one result stream.
 */
async function runSinglesOneConnection (p: NodeProc, total: number, conc: number): Promise<void> {
  const submissions = await p.apiClient().openSubmissions()
  try {
    await submitAndCollect(p, total, conc, async i => await submissions.submit({ task_type: 'echo', payload: { i } }))
  } finally {
    await submissions.close()
  }
}

/** `total` echo tasks through `submit`, `conc` in flight; every outcome from one result stream, checked */
async function submitAndCollect (p: NodeProc, total: number, conc: number, submit: (i: number) => Promise<string>): Promise<void> {
  const results = await p.apiClient().openResults()
  try {
    const waits: Array<Promise<void>> = []
    let next = 0
    const submitter = async (): Promise<void> => {
      while (next < total) {
        const i = next++
        const id = await submit(i)
        waits.push(results.wait(id, 120_000).then(o => {
          if (o.status !== 'completed' || (o.result as { i?: number } | undefined)?.i !== i) throw new Error(`task ${id} ended ${o.status} with ${JSON.stringify(o.result)}`)
        }))
      }
    }
    await Promise.all(Array.from({ length: conc }, submitter))
    await Promise.all(waits)
  } finally {
    results.close()
  }
}

/** one task per request, `conc` requests in flight; each task's result is awaited too */
async function runSingles (p: NodeProc, total: number, conc: number): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < total) {
      await awaitCompleted(p, await submitOne(p, next++))
    }
  }
  await Promise.all(Array.from({ length: conc }, worker))
}

/** one echo task by POST /v1/tasks; its id */
async function submitOne (p: NodeProc, i: number): Promise<string> {
  const sub = await p.api('POST', '/v1/tasks', { task_type: 'echo', payload: { i } }, 60_000)
  if (sub.status !== 201) throw new Error(`submit failed: ${sub.status} ${JSON.stringify(sub.body)}`)
  return sub.body.id
}

/** wait (long polls) until the task completed; anything else is a failed run */
async function awaitCompleted (p: NodeProc, id: string): Promise<void> {
  for (let tries = 0; ; tries++) {
    const res = await p.api('GET', `/v1/tasks/${id}/wait?timeoutMs=30000`, undefined, 60_000)
    if (res.body?.status === 'completed') return
    if (['failed', 'cancelled', 'timeout'].includes(res.body?.status) || tries > 10) throw new Error(`task ${id} ended ${res.body?.status}`)
  }
}

/**
 * The hops a task passes, each with the hop it is timed from. Two chains run at once after the
 * leader applies the submit: the answer to the submitter, and the execution (assign → result).
 */
const HOPS: Array<[hop: string, from: string]> = [
  ['submit.sent@F', 'http.received@F'], // HTTP parse, validation, id
  ['leader.received@L', 'submit.sent@F'], // forward to the leader
  ['submit.applied@L', 'leader.received@L'], // propose → persisted → committed → applied
  ['submit.acked@F', 'submit.applied@L'], // the leader's answer back
  ['submit.visible@F', 'submit.acked@F'], // the follower applies it too (read-your-writes)
  ['http.answered@F', 'submit.visible@F'],
  ['assign.proposed@L', 'submit.applied@L'], // the leader plans
  ['dispatch.sent@L', 'assign.proposed@L'],
  ['worker.received@W', 'dispatch.sent@L'],
  ['worker.started@W', 'worker.received@W'],
  ['worker.finished@W', 'worker.started@W'],
  ['result.sent@W', 'worker.finished@W'],
  ['result.received@L', 'result.sent@W'],
  ['finished.proposed@L', 'result.received@L'],
  ['schedule.applied@L', 'assign.proposed@L'], // the assign entry committed (in parallel with the run)
  ['complete.applied@L', 'finished.proposed@L'], // the result entry committed and applied
  ['complete.applied@F', 'complete.applied@L'],
  ['wait.answered@F', 'complete.applied@F'],
  ['wait.answered@F', 'http.received@F'] // end to end, as the bench's latency
]

/** median µs per hop over the traced tasks (marks from every node, tagged L leader, F follower, W worker) */
async function hopBreakdown (procs: NodeProc[], leader: NodeProc, follower: NodeProc, ids: string[]): Promise<Record<string, number>> {
  const per = new Map<string, Map<string, number>>()
  for (const p of procs) {
    const res = await p.api<{ marks: Record<string, Array<[string, number]>> }>('GET', '/v1/debug/trace')
    for (const [id, marks] of Object.entries(res.body.marks)) {
      let m = per.get(id)
      if (m === undefined) { m = new Map(); per.set(id, m) }
      for (const [hop, at] of marks) {
        // the worker's hops carry W whichever node ran it; the rest say which side they were on
        const tag = hop.startsWith('worker.') || hop === 'result.sent' ? 'W' : p === leader ? 'L' : p === follower ? 'F' : 'W'
        const k = `${hop}@${tag}`
        if (!m.has(k)) m.set(k, at)
      }
    }
  }
  // RC_BENCH_MARKS=<file>: every task's marks (ms since the epoch, as the nodes' RC_RAFT_TRACE
  // timelines) for reading one task's path beside the Raft driver's
  if (process.env.RC_BENCH_MARKS !== undefined) {
    writeFileSync(process.env.RC_BENCH_MARKS, JSON.stringify(ids.map(id => [id, Object.fromEntries(per.get(id) ?? [])])))
  }
  const outHops: Record<string, number> = {}
  for (const [hop, from] of HOPS) {
    const d: number[] = []
    for (const id of ids) {
      const m = per.get(id)
      const a = m?.get(from)
      const b = m?.get(hop)
      if (a !== undefined && b !== undefined) d.push((b - a) * 1000)
    }
    if (d.length === 0) continue
    d.sort((x, y) => x - y)
    outHops[`${from} → ${hop}`] = Math.round(pct(d, 0.5))
  }
  return outHops
}

/**
 * --bare: three bare libp2p hosts measured the same way (scripts/bench-bare.ts), right after our
 * run, and our idle figures as ratios of theirs (mean over the nodes).
 */
function runBare (ours: Record<string, any>): Record<string, unknown> {
  const text = execFileSync(process.execPath, [join(HERE, 'bench-bare.js'), '--idle-seconds', String(IDLE_S)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const bare = JSON.parse(text) as Record<string, any>
  const mean = (o: Record<string, number> | undefined): number | undefined => {
    const v = Object.values(o ?? {})
    return v.length === 0 ? undefined : v.reduce((a, b) => a + b, 0) / v.length
  }
  const ratio = (k: string): number | undefined => {
    const a = mean(ours[k]); const b = mean(bare[k])
    return a === undefined || b === undefined || b === 0 ? undefined : Math.round(a / b * 100) / 100
  }
  return { ...bare, oursVsBare: { idleRss: ratio('idleRssMb'), settledRss: ratio('settledRssMb'), idleCpu: ratio('idleCpuPercent'), idleWakeups: ratio('idleWakeupsPerSec') } }
}

/** fdatasync of 4 KiB on this machine's temp dir, median of 50, ms */
function measureFsyncMs (): number {
  const f = join(tmpdir(), `rc-bench-fsync-${process.pid}`)
  const fd = openSync(f, 'w')
  const buf = Buffer.alloc(4096, 1)
  const times: number[] = []
  try {
    for (let i = 0; i < 50; i++) {
      writeSync(fd, buf, 0, buf.length, 0)
      const t = performance.now()
      fsyncSync(fd)
      times.push(performance.now() - t)
    }
  } finally { closeSync(fd); rmSync(f, { force: true }) }
  times.sort((a, b) => a - b)
  return Math.round(pct(times, 0.5) * 1000) / 1000
}

/** run the reference peers (../shared/peers/run.sh NAME) and set our figures beside theirs */
function runPeers (which: string, ours: Record<string, unknown>): Record<string, unknown> {
  const script = resolve(process.cwd(), '../shared/peers/run.sh')
  if (!existsSync(script)) return { error: `${script} not found` }
  const names = which === 'all' ? ['bullmq', 'bullmq-durable', 'nats', 'rabbitmq'] : which.split(',')
  const res: Record<string, unknown> = {}
  for (const name of names) {
    try {
      const text = execFileSync('bash', [script, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20 * 60_000 })
      const lines = text.trim().split('\n')
      const peer = JSON.parse(lines[lines.length - 1]!)
      res[name] = { peer, ratios: ratios(ours, peer) }
    } catch (err) {
      res[name] = { error: (err as Error).message.split('\n')[0] }
    }
  }
  return res
}

/** ours ÷ peer: throughput (above 1 = we are faster) and p50 latency (below 1 = we are faster) */
function ratios (ours: Record<string, any>, peer: Record<string, any>): Record<string, number | undefined> {
  const peerTput = num(peer.throughput?.tasks_per_s?.median)
  const peerP50 = num(peer.latency_ms?.p50?.median)
  const r = (a: number | undefined, b: number | undefined): number | undefined => a === undefined || b === undefined || b === 0 ? undefined : Math.round(a / b * 100) / 100
  return {
    peerTasksPerSec: peerTput,
    peerLatencyP50Ms: peerP50,
    singleThroughputVsPeer: r(num(ours.single?.tasksPerSec), peerTput),
    singlePipelinedThroughputVsPeer: r(num(ours.singlePipelined?.tasksPerSec), peerTput),
    singleStreamedThroughputVsPeer: r(num(ours.singleStreamed?.tasksPerSec), peerTput),
    singleOneConnectionThroughputVsPeer: r(num(ours.singleOneConnection?.tasksPerSec), peerTput),
    batchThroughputVsPeer: r(num(ours.batch?.tasksPerSec), peerTput),
    latencyP50VsPeer: r(num(ours.latencyMs?.p50), peerP50)
  }
}

const num = (x: unknown): number | undefined => typeof x === 'number' && Number.isFinite(x) ? x : undefined

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


const pct = (a: number[], q: number): number => a.length === 0 ? 0 : a[Math.min(a.length - 1, Math.floor(q * a.length))]!
const round = (x: number): number => Math.round(x * 10) / 10

main().catch(err => { console.error(err); process.exit(1) })
