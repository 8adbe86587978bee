// Throughput of the cluster state machine's apply() and of planAssignments, on this machine.
// Usage: npx tsx scripts/bench-state.ts [N]   (default N = 100000). Prints JSON.
import { performance } from 'node:perf_hooks'
import { ClusterState } from '../src/sched/state-machine.js'
import { planAssignments } from '../src/sched/scheduler.js'
import { defaultRequirements } from '../src/sched/requirements.js'
import type { Command } from '../src/sched/commands.js'
import type { DeviceBid, TaskData } from '../src/sched/types.js'

const N = Number(process.argv[2] ?? 100_000)
const T0 = 1_700_000_000_000

function task (i: number): TaskData {
  return { id: `t${i}`, taskType: 'echo', payload: { i }, priority: 1 + (i % 5), requirements: defaultRequirements(), requiredPermissions: [], retryCount: 0, createdAt: T0 }
}

function bid (id: string): DeviceBid {
  return {
    nodeId: id, name: id, incarnation: 1, seq: 1, role: 'compute', platform: 'linux', arch: 'x64', cpuCores: 4, memoryGb: 8,
    storageGb: 100, gpu: false, sensors: [], internet: true, bandwidthMbps: 100, taskTypes: ['echo'], permissions: [],
    sandbox: { network: true, memory: true, cpu: true, filesystem: true }, cpuUsage: 10, memoryUsage: 20, memoryUsedGb: 1,
    activeTasks: 0, maxConcurrentTasks: 1_000_000, latencyMs: 5
  }
}

function time (fn: () => void): number { const t = performance.now(); fn(); return performance.now() - t }

/** One command per task per phase: N submits, N assigns, N started, N finished. */
function perCommand (): Record<string, number> {
  const st = new ClusterState({ maxQueueSize: N + 1 })
  const submits: Command[] = []; const assigns: Command[] = []; const starts: Command[] = []; const fins: Command[] = []
  for (let i = 0; i < N; i++) {
    submits.push({ type: 'submit', requestId: `r${i}`, principal: 'alice', at: T0, tasks: [task(i)] })
    assigns.push({ type: 'assign', at: T0 + 1, assignments: [{ taskId: `t${i}`, attempt: 1, deviceId: `d${i % 10}` }] })
    starts.push({ type: 'started', at: T0 + 2, taskId: `t${i}`, attempt: 1, deviceId: `d${i % 10}` })
    fins.push({ type: 'finished', at: T0 + 3, results: [{ taskId: `t${i}`, attempt: 1, deviceId: `d${i % 10}`, status: 'completed', result: i, startedAt: T0 + 2, finishedAt: T0 + 3 }] })
  }
  let idx = 0
  const ms = {
    submit: time(() => { for (const c of submits) st.apply(c, ++idx) }),
    assign: time(() => { for (const c of assigns) st.apply(c, ++idx) }),
    started: time(() => { for (const c of starts) st.apply(c, ++idx) }),
    finished: time(() => { for (const c of fins) st.apply(c, ++idx) })
  }
  if (st.counts.completed !== N) throw new Error(`expected ${N} completed, got ${st.counts.completed}`)
  const total = ms.submit + ms.assign + ms.started + ms.finished
  return {
    commands: 4 * N,
    totalMs: Math.round(total),
    commandsPerSec: Math.round(4 * N / total * 1000),
    submitPerSec: Math.round(N / ms.submit * 1000),
    assignPerSec: Math.round(N / ms.assign * 1000),
    startedPerSec: Math.round(N / ms.started * 1000),
    finishedPerSec: Math.round(N / ms.finished * 1000),
    tasksLifecyclePerSec: Math.round(N / total * 1000)
  }
}

/** The leader's shape: batches of 100 per command, plus planning each assign batch. */
function batched (): Record<string, number> {
  const st = new ClusterState({ maxQueueSize: N + 1 })
  const B = 100
  const bids = Array.from({ length: 10 }, (_, i) => bid(`d${i}`))
  let idx = 0
  let planMs = 0
  const total = time(() => {
    for (let i = 0; i < N; i += B) {
      const tasks: TaskData[] = []
      for (let j = i; j < Math.min(N, i + B); j++) tasks.push(task(j))
      st.apply({ type: 'submit', requestId: `b${i}`, principal: 'alice', at: T0, tasks }, ++idx)
    }
    const inflight = new Map<string, number>()
    for (;;) {
      const t = performance.now()
      const plan = planAssignments(st, bids, T0 + 1, { maxAssignments: B, inflightByDevice: inflight })
      planMs += performance.now() - t
      if (plan.assignments.length === 0) break
      st.apply({ type: 'assign', at: T0 + 1, assignments: plan.assignments }, ++idx)
      st.apply({
        type: 'finished', at: T0 + 3,
        results: plan.assignments.map(a => ({ taskId: a.taskId, attempt: a.attempt, deviceId: a.deviceId, status: 'completed' as const, result: 1, startedAt: T0 + 2, finishedAt: T0 + 3 }))
      }, ++idx)
    }
  })
  if (st.counts.completed !== N) throw new Error(`expected ${N} completed, got ${st.counts.completed}`)
  return { tasks: N, totalMs: Math.round(total), tasksPerSec: Math.round(N / total * 1000), planMs: Math.round(planMs), plannedPerSec: Math.round(N / planMs * 1000) }
}

function snapshotCost (): Record<string, number> {
  const st = new ClusterState({ maxQueueSize: N + 1 })
  let idx = 0
  for (let i = 0; i < N; i++) st.apply({ type: 'submit', requestId: `r${i}`, principal: 'alice', at: T0, tasks: [task(i)] }, ++idx)
  let snap: unknown
  const snapMs = time(() => { snap = st.snapshot() })
  let restored: ClusterState | undefined
  const restoreMs = time(() => { restored = ClusterState.restore(snap) })
  if (restored!.size !== N) throw new Error('restore lost tasks')
  return { tasks: N, snapshotMs: Math.round(snapMs), restoreMs: Math.round(restoreMs) }
}

console.log(JSON.stringify({ n: N, perCommand: perCommand(), batched: batched(), snapshot: snapshotCost() }, null, 2))
