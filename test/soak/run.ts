// One soak run, driven by one seed: start the nodes, run the workload while the nemesis injects faults,
// heal everything, wait (bounded) for every acknowledged task to end, fetch the final state from every
// node, and check. The run dir keeps history.jsonl, the nodes' logs, their final states and
// report.json; it is removed after a clean run unless `keep`.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sleep } from '../../scripts/lib/proc-cluster.js'
import { check, followChain, TERMINAL, type CheckReport, type MetricsView, type TaskRecord } from './checker.js'
import { builtCli, SoakCluster, type SoakNode } from './cluster.js'
import { HistoryWriter } from './history.js'
import { Nemesis, planFaults, PROCESS_FAULTS, type ExtraFault } from './nemesis.js'
import { Workload } from './workload.js'
import type { NetLab } from '../netlab/netlab.js'
import { mountTmpfs, unmount } from './disk-faults.js'
import { mulberry32 } from '../../src/sched/rng.js'

export interface SoakOptions {
  seed: number
  /** node processes (3-5) */
  nodes?: number
  /** how long the faults and the workload run */
  faultMs?: number
  /** the stated bound: acknowledged tasks end within this after the last fault heals */
  boundMs?: number
  /** fault kinds to draw from (default: the process faults) */
  kinds?: readonly string[]
  /** implementations of non-process kinds (network, disk) */
  extra?: Map<string, ExtraFault>
  /** undo every network or disk fault */
  heal?: () => void
  /** run the nodes in these namespaces (network faults) */
  lab?: NetLab
  /** this node's (1-based) data dir is a small tmpfs of its own (the disk-full fault) */
  tmpfsNode?: number
  /** parent of the run dir (default the OS temp dir) */
  baseDir?: string
  keep?: boolean
  clients?: number
  deviceTimeoutMs?: number
  maxConcurrent?: number
  /** the nodes' --snapshot-entries (default: drawn from the seed, see runSoak) */
  snapshotEntries?: number
  log?: (line: string) => void
}

export interface SoakResult {
  seed: number
  ok: boolean
  runDir: string
  historyPath: string
  faults: Record<string, number>
  report: CheckReport
  durationMs: number
  error?: string
}

/** live runs, so a script's SIGINT handler can kill their processes */
export const liveClusters = new Set<SoakCluster>()
/** tmpfs mounts of live runs */
const liveMounts = new Set<string>()

// a test runner that exits under a run (mocha --exit after a timeout) must not leave nodes or mounts
process.on('exit', () => {
  for (const c of liveClusters) {
    for (const x of c.nodes) {
      if (x.pid !== undefined && x.alive) try { process.kill(x.pid, 'SIGKILL') } catch { /* gone */ }
    }
  }
  for (const d of liveMounts) unmount(d)
})

export async function runSoak (o: SoakOptions): Promise<SoakResult> {
  const t0 = Date.now()
  const log = o.log ?? ((l: string) => { console.log(l) })
  if (builtCli() === undefined) throw new Error('the soak runs the built CLI: run `npm run build` first')
  const nodes = o.nodes ?? 3
  const faultMs = o.faultMs ?? 30_000
  const boundMs = o.boundMs ?? 60_000
  const maxConcurrent = o.maxConcurrent ?? 2
  const kinds = o.kinds ?? PROCESS_FAULTS
  const runDir = join(o.baseDir ?? tmpdir(), `rc-soak-${o.seed}-${process.pid}-${t0}`)
  mkdirSync(runDir, { recursive: true })
  const h = new HistoryWriter(join(runDir, 'history.jsonl'))
  // snapshots under the faults (killed mid-write, copied and lost, a full disk): two seeds in three
  // take one every 50 or 300 entries; the default (10,000) is more than a run writes. Its own
  // stream, so no other choice of a seed changed.
  const snapshotEntries = o.snapshotEntries ?? [50, 300, undefined][Math.floor(mulberry32(o.seed ^ 0x5a1c)() * 3)]
  const config = { nodes, netns: o.lab !== undefined, tmpfsNode: o.tmpfsNode, faultMs, boundMs, kinds, maxConcurrent, deviceTimeoutMs: o.deviceTimeoutMs ?? 1500, clients: o.clients ?? 3, snapshotEntries }
  h.add({ t: Date.now(), type: 'run', seed: o.seed, nodes, config })
  if (snapshotEntries !== undefined) log(`soak seed=${o.seed}: the nodes snapshot every ${snapshotEntries} log entries`)
  const cluster = new SoakCluster(runDir, nodes, { deviceTimeoutMs: config.deviceTimeoutMs, maxConcurrent, logLevel: 'info', snapshotEntries }, o.lab)
  liveClusters.add(cluster)
  const nemesis = new Nemesis(cluster, h, planFaults(o.seed, kinds), o.extra, o.heal)
  let report: CheckReport | undefined
  let error: string | undefined
  const tmpfsDir = o.tmpfsNode === undefined ? undefined : cluster.node(o.tmpfsNode).dataDir
  try {
    if (tmpfsDir !== undefined) { mountTmpfs(tmpfsDir); liveMounts.add(tmpfsDir) }
    await cluster.startAll()
    const leader = await cluster.waitLeader(30_000)
    if (leader === undefined) throw new Error(`no leader within 30 s of start: see ${runDir}/n1.log`)
    h.add({ t: Date.now(), type: 'leader', node: leader.name, peerId: leader.peerId })
    const workload = new Workload(cluster, h, {
      seed: o.seed, clients: config.clients, pauseMs: [100, 400], maxTries: 6, submitTimeoutMs: 5000, burstEvery: 25, slots: nodes * maxConcurrent
    })
    workload.start()
    nemesis.start()
    await sleep(faultMs)
    await nemesis.stop()
    h.add({ t: Date.now(), type: 'heal', phase: 'all-healed' })
    const healedAt = Date.now()
    await workload.stop()
    h.add({ t: Date.now(), type: 'heal', phase: 'workload-stopped' })
    // the bound is for recovery, not for working off a backlog the clients piled up in the fault
    // phase (seed 201 once queued 4,145 tasks; every slot was busy for the minute after the heal)
    const backlogMs = await backlogAllowanceMs(cluster, nodes * maxConcurrent)
    h.add({ t: Date.now(), type: 'heal', phase: 'backlog', allowanceMs: backlogMs })
    if (backlogMs > 0) log(`soak seed=${o.seed}: the bound is ${boundMs} + ${backlogMs} ms (twice what ${nodes * maxConcurrent} slots need for the sleeps left at the heal)`)
    await waitFinal(cluster, h, healedAt, boundMs + backlogMs)
    const { finals, metrics } = await settle(cluster, runDir, 20_000)
    h.add({ t: Date.now(), type: 'heal', phase: 'settled' })
    h.flush()
    report = check({ events: h.events, finals, metrics, boundMs: boundMs + backlogMs })
  } catch (err) {
    error = (err as Error).stack ?? String(err)
  } finally {
    h.flush()
    await cluster.killAll()
    liveClusters.delete(cluster)
    if (tmpfsDir !== undefined) { unmount(tmpfsDir); liveMounts.delete(tmpfsDir) }
  }
  report ??= { violations: [{ kind: 'run', message: error ?? 'no report' }], stats: emptyStats() }
  const ok = error === undefined && report.violations.length === 0
  const faults = Object.fromEntries([...nemesis.counts].sort())
  const historyPath = join(runDir, 'history.jsonl')
  const res: SoakResult = { seed: o.seed, ok, runDir, historyPath, faults, report, durationMs: Date.now() - t0, ...(error !== undefined ? { error } : {}) }
  writeFileSync(join(runDir, 'report.json'), JSON.stringify(res, null, 2))
  // a clean run leaves nothing; a failed one keeps its history, logs and final states (not the data dirs)
  if (o.keep !== true) rmSync(ok ? runDir : join(runDir, 'data'), { recursive: true, force: true })
  log(summary(res))
  return res
}

function emptyStats (): CheckReport['stats'] {
  return { ops: 0, acknowledged: 0, acknowledgedOverStream: 0, unacknowledgedPresent: 0, tasks: 0, clones: 0, completed: 0, failed: 0, attempts: 0, priorityPairsJudged: 0, maxTimeToFinalAfterHealMs: 0 }
}

export function summary (r: SoakResult): string {
  const s = r.report.stats
  const lines = [`soak seed=${r.seed} ${r.ok ? 'OK' : 'FAILED'} in ${Math.round(r.durationMs / 1000)} s: ${s.acknowledged} acknowledged (${s.acknowledgedOverStream} over a submission stream) of ${s.ops} submissions, ` +
    `${s.tasks} tasks (${s.clones} clones), ${s.completed} completed, ${s.failed} failed, ${s.attempts} attempts, ${s.priorityPairsJudged} priority pairs judged, ` +
    `last final ${s.maxTimeToFinalAfterHealMs} ms after heal; faults ${JSON.stringify(r.faults)}`]
  if (!r.ok) {
    const byKind = new Map<string, number>()
    for (const x of r.report.violations) byKind.set(x.kind, (byKind.get(x.kind) ?? 0) + 1)
    lines.push(`  violations: ${JSON.stringify(Object.fromEntries(byKind))}`)
    for (const x of r.report.violations.slice(0, 10)) lines.push(`  - [${x.kind}] ${x.message.slice(0, 600)}`)
    lines.push(`  replay: SEED=${r.seed}   history: ${r.historyPath}   run dir: ${r.runDir}`)
  }
  return lines.join('\n')
}

async function listTasks (x: { api: (m: string, p: string, b?: unknown, t?: number) => Promise<{ status: number, body: any }> }): Promise<TaskRecord[]> {
  const r = await x.api('GET', '/v1/tasks?limit=10000', undefined, 10_000)
  if (r.status !== 200 || !Array.isArray(r.body)) throw new Error(`GET /v1/tasks: HTTP ${r.status}`)
  if (r.body.length >= 10_000) throw new Error('more than 10000 tasks: the soak lists them in one request; shorten the run')
  return r.body as TaskRecord[]
}

/**
 * Twice the time the cluster's slots need to run the sleeps still waiting or running once the faults
 * have healed and the clients stopped, as the cluster simulator's quiescence bound does: 0 without
 * a backlog, so a task stuck for a reason of ours still fails the bound.
 */
async function backlogAllowanceMs (cluster: SoakCluster, slots: number): Promise<number> {
  for (const x of cluster.up()) {
    try {
      const tasks = await listTasks(x)
      let workMs = 0
      for (const t of tasks) {
        const d = Number((t.task?.payload as { duration?: unknown } | undefined)?.duration)
        if (!TERMINAL.has(t.status) && t.taskType === 'sleep' && Number.isFinite(d)) workMs += d * 1000
      }
      return Math.round(2 * workMs / Math.max(1, slots))
    } catch { /* busy or electing: the next node */ }
  }
  return 0
}

/**
 * Poll a node's task list until every acknowledged task's chain is terminal, or the bound has passed
 * for all of them (it runs from the heal, or from the acknowledgement when that came later).
 */
async function waitFinal (cluster: SoakCluster, h: HistoryWriter, healedAt: number, boundMs: number): Promise<void> {
  // every acknowledged submission in the history: the workload's, the nemesis' batches, the disk probes
  const pending = new Map<number, { id: string, ackAt: number }>()
  for (const e of h.events) if (e.type === 'ok' && !pending.has(e.op)) pending.set(e.op, { id: e.id, ackAt: e.t })
  const deadline = Math.max(healedAt, ...[...pending.values()].map(a => a.ackAt)) + boundMs
  let k = 0
  while (pending.size > 0 && Date.now() < deadline) {
    const up = cluster.up()
    const x = up[k++ % Math.max(1, up.length)]
    if (x !== undefined) {
      try {
        const tasks = await listTasks(x)
        const byId = new Map(tasks.map(t => [t.id, t]))
        const t = Date.now()
        for (const [op, a] of pending) {
          const root = byId.get(a.id)
          if (root === undefined) continue
          const chain = followChain(root, byId, () => {})
          const last = chain[chain.length - 1]!
          if (TERMINAL.has(last.status) && last.replacedBy === undefined) {
            h.add({ t, type: 'final', op, id: a.id, lastId: last.id, status: last.status, node: x.name })
            pending.delete(op)
          }
        }
      } catch { /* that node is busy or electing: ask the next one */ }
    }
    if (pending.size > 0) await sleep(500)
  }
}

/**
 * Wait (bounded) until every node lists the same outcomes and nothing is still queued or running, then
 * take each node's final state with its metrics: metrics, tasks, metrics again, and the metrics count
 * only when both reads agree (nothing finished in between).
 */
async function settle (cluster: SoakCluster, runDir: string, timeoutMs: number): Promise<{ finals: Map<string, TaskRecord[]>, metrics: Map<string, MetricsView> }> {
  const deadline = Date.now() + timeoutMs
  let finals = new Map<string, TaskRecord[]>()
  let metrics = new Map<string, MetricsView>()
  const getMetrics = async (x: SoakNode): Promise<MetricsView | undefined> => {
    try {
      const r = await x.api<MetricsView>('GET', '/v1/metrics?period=24h', undefined, 10_000)
      return r.status === 200 ? r.body : undefined
    } catch { return undefined }
  }
  for (;;) {
    finals = new Map()
    metrics = new Map()
    for (const x of cluster.up()) {
      try {
        const m1 = await getMetrics(x)
        finals.set(x.name, await listTasks(x))
        const m2 = await getMetrics(x)
        if (m1 !== undefined && m2 !== undefined && m1.completed === m2.completed && m1.failed === m2.failed) metrics.set(x.name, m2)
      } catch { /* counted below */ }
    }
    const digests = new Set([...finals.values()].map(ts => JSON.stringify(ts.map(t => [t.id, t.status, t.attempts.length]).sort())))
    const busy = [...finals.values()].some(ts => ts.some(t => !TERMINAL.has(t.status)))
    if ((digests.size === 1 && finals.size === cluster.nodes.length && !busy) || Date.now() >= deadline) break
    await sleep(500)
  }
  for (const [n, ts] of finals) writeFileSync(join(runDir, `final-${n}.json`), JSON.stringify(ts))
  writeFileSync(join(runDir, 'metrics.json'), JSON.stringify(Object.fromEntries(metrics), null, 2))
  return { finals, metrics }
}
