// scripts/simulate: start N real node processes on this machine, run a workload, optionally kill
// the leader or a worker mid-run, and show what happens: a live table while it runs, a summary at
// the end. Usage:
//   npm run demo -- --nodes 3 --tasks 300 --kill-leader
//   node dist/scripts/simulate.js --nodes 5 --tasks 1000 --kill-device --duration 60
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startProcCluster, waitForLeader, sleep, type NodeProc } from './lib/proc-cluster.js'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    tasks: { type: 'string', default: '200' },
    'kill-leader': { type: 'boolean', default: false },
    'kill-device': { type: 'boolean', default: false },
    duration: { type: 'string', default: '120' },
    'task-seconds': { type: 'string', default: '0.2' },
    'data-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (values.help) {
  console.log(`Usage: simulate [--nodes N] [--tasks M] [--kill-leader] [--kill-device] [--duration S] [--task-seconds S] [--keep]
Starts N retire-cluster nodes as separate processes on 127.0.0.1, submits M sleep tasks, and
reports leader elections, failovers and every task's outcome. --keep leaves the cluster running.`)
  process.exit(0)
}
const N = Math.max(1, Number(values.nodes))
const M = Math.max(1, Number(values.tasks))
const DURATION_MS = Number(values.duration) * 1000
const TASK_S = Number(values['task-seconds'])
const isTTY = process.stdout.isTTY === true

async function main (): Promise<void> {
  const baseDir = values['data-dir'] ?? join(tmpdir(), `retire-cluster-sim-${process.pid}`)
  say(`starting ${N} nodes in ${baseDir} …`)
  const t0 = Date.now()
  const procs = await startProcCluster({ nodes: N, baseDir })
  let leader = await waitForLeader(procs, 60_000)
  say(`leader elected: ${leader.name} (${((Date.now() - t0) / 1000).toFixed(1)} s after start)`)
  for (const p of procs) say(`  ${p.name}  ${p.apiUrl}  pid ${p.pid}`)
  await sleep(1500)

  const submitter = procs.find(p => p !== leader) ?? leader
  const res = await submitter.api('POST', '/v1/batches', {
    name: 'simulate', tasks: Array.from({ length: M }, (_, i) => ({ task_type: 'sleep', payload: { duration: TASK_S, i } }))
  }, 60_000)
  if (res.status !== 201) throw new Error(`submit failed: ${JSON.stringify(res.body)}`)
  const batchId = res.body.id as string
  say(`submitted ${M} tasks on ${submitter.name} (batch ${batchId})`)

  const events: string[] = []
  let killedLeaderAt: number | undefined
  let newLeaderAfterMs: number | undefined
  let killedDevice: NodeProc | undefined
  const deadline = Date.now() + DURATION_MS
  let progress: any = {}
  while (Date.now() < deadline) {
    const live = procs.filter(p => p.alive)
    const view = live.find(p => p !== leader) ?? live[0]!
    try { progress = (await view.api('GET', `/v1/batches/${batchId}`, undefined, 3000)).body } catch { /* electing */ }
    const done = (progress.completed ?? 0) + (progress.failed ?? 0) + (progress.cancelled ?? 0)
    if (values['kill-leader'] === true && killedLeaderAt === undefined && done >= M / 3) {
      events.push(`${stamp(t0)} kill -9 leader ${leader.name}`)
      killedLeaderAt = Date.now()
      await leader.kill9()
    }
    if (killedLeaderAt !== undefined && newLeaderAfterMs === undefined) {
      try {
        const nl = await waitForLeader(procs.filter(p => p.alive), 500)
        newLeaderAfterMs = Date.now() - killedLeaderAt
        leader = nl
        events.push(`${stamp(t0)} new leader ${nl.name} after ${newLeaderAfterMs} ms`)
      } catch { /* not yet */ }
    }
    if (values['kill-device'] === true && killedDevice === undefined && done >= M / 2) {
      killedDevice = procs.find(p => p.alive && p !== leader)
      if (killedDevice !== undefined) {
        events.push(`${stamp(t0)} kill -9 worker ${killedDevice.name}`)
        await killedDevice.kill9()
      }
    }
    await render(procs, progress, events, t0)
    if (done >= M) break
    await sleep(500)
  }

  // summary: every task's final state, counted once
  const live = procs.filter(p => p.alive)
  const view = live[0]!
  const final = (await view.api('GET', `/v1/batches/${batchId}`)).body
  const tasks = (await view.api('GET', '/v1/tasks?limit=10000')).body as any[]
  const failovers = tasks.filter(t => t.replaces !== undefined).length
  say('')
  say('summary')
  say(`  tasks submitted     ${M}`)
  say(`  completed           ${final.completed}`)
  say(`  failed              ${final.failed}`)
  say(`  still pending/running ${final.pending + final.running}`)
  say(`  failover clones     ${failovers}`)
  if (killedLeaderAt !== undefined) say(`  leader failover     ${newLeaderAfterMs === undefined ? 'no new leader seen' : `${newLeaderAfterMs} ms to a new leader`}`)
  say(`  wall time           ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  for (const e of events) say(`  ${e}`)
  if (values.keep) { say('cluster left running (Ctrl-C to stop)'); await new Promise(() => {}) }
  await Promise.all(procs.map(async p => { await p.stop() }))
  process.exit(final.completed + final.failed >= M ? 0 : 1)
}

async function render (procs: NodeProc[], progress: any, events: string[], t0: number): Promise<void> {
  const live = procs.find(p => p.alive)
  let nodes: any[] = []
  try { nodes = (await live!.api('GET', '/v1/nodes', undefined, 2000)).body } catch { /* electing */ }
  const lines = [
    `retire-cluster simulate — ${stamp(t0)}   batch: ${progress.completed ?? 0} completed, ${progress.running ?? 0} running, ${progress.pending ?? 0} pending, ${progress.failed ?? 0} failed`,
    'NODE     LEADER  ALIVE  CPU%  ACTIVE  PID',
    ...procs.map(p => {
      const n = nodes.find(x => x.id === p.peerId)
      return `${p.name.padEnd(8)} ${(n?.isLeader === true ? '  ★' : '').padEnd(7)} ${(p.alive ? 'yes' : 'DEAD').padEnd(6)} ${String(Math.round(n?.cpuUsage ?? 0)).padStart(4)}  ${String(n?.activeTasks ?? '-').padStart(6)}  ${p.pid ?? ''}`
    }),
    ...events.slice(-5)
  ]
  if (isTTY) { process.stdout.write('\x1b[2J\x1b[H' + lines.join('\n') + '\n'); return }
  // not a terminal (a log, CI): the progress line, and each event once, as it happens
  process.stdout.write(lines[0] + '\n')
  for (const e of events.slice(printedEvents)) process.stdout.write(`  ${e}\n`)
  printedEvents = events.length
}
let printedEvents = 0

const stamp = (t0: number): string => `t+${((Date.now() - t0) / 1000).toFixed(1)}s`
function say (s: string): void { process.stdout.write(s + '\n') }

main().catch(err => { console.error(`simulate failed: ${(err as Error).message}`); process.exit(1) })
