// A tiny in-memory ClusterNode for developing the API, dashboard and CLI without the real node.
// It "runs" echo and sleep tasks on three fake devices with timers. Not used by committed e2e tests.

import type { ClusterNode, ClusterScheduler, NodeInfo, TaskLifecycleHandler } from '../../src/node/api-types.js'
import type { TaskRecord, ClusterEvent } from '../../src/sched/commands.js'

type Ev = Parameters<Parameters<ClusterNode['onEvent']>[0]>[0]

function typedError (type: string, message: string, field?: string): Error {
  return Object.assign(new Error(message), { type, field })
}

export function memoryNode (name = 'mem-1'): ClusterNode {
  const listeners = new Set<(e: Ev) => void>()
  const tasks = new Map<string, TaskRecord>()
  const batches = new Map<string, string[]>()
  let seq = 0
  const emit = (e: Ev): void => { for (const l of listeners) l(e) }
  const devices: NodeInfo[] = ['laptop', 'pi', 'phone'].map((n, i) => ({
    id: `12D3KooW${n}`, name: n, isLeader: i === 0, isVoter: i < 2, lastSeenMs: 200, alive: true,
    nodeId: `12D3KooW${n}`, incarnation: 1, seq: 1, role: i === 2 ? 'mobile' : 'compute', platform: i === 2 ? 'android' : 'linux',
    arch: i === 1 ? 'arm64' : 'x64', cpuCores: 4 - i, memoryGb: 8 / (i + 1), storageGb: 20, gpu: false, sensors: [],
    battery: i === 2 ? { percent: 76, charging: false } : undefined, internet: true, bandwidthMbps: 100,
    taskTypes: ['echo', 'sleep'], permissions: ['read_files'], sandbox: { network: false, memory: true, cpu: true, filesystem: true },
    cpuUsage: 12 + i * 20, memoryUsage: 40 + i * 10, memoryUsedGb: 2, activeTasks: 0, maxConcurrentTasks: 4, latencyMs: i * 5
  }))
  const run = (r: TaskRecord): void => {
    const dev = devices[seq % devices.length]
    setTimeout(() => {
      r.status = 'running'; r.deviceId = dev.id; r.startedAt = Date.now()
      r.attempts.push({ attempt: 1, deviceId: dev.id, status: 'running', assignedAt: Date.now(), startedAt: Date.now() })
      emit({ kind: 'schedule', taskId: r.id, attempt: 1, deviceId: dev.id, at: Date.now() })
      emit({ kind: 'start', taskId: r.id, attempt: 1, deviceId: dev.id, at: Date.now() })
      const ms = r.taskType === 'sleep' ? Number((r.task.payload as { duration?: number })?.duration ?? 1) * 1000 : 30
      const tick = setInterval(() => {
        r.progress = Math.min(95, r.progress + 10)
        emit({ kind: 'progress', taskId: r.id, attempt: 1, deviceId: dev.id, at: Date.now(), progress: r.progress })
      }, Math.max(10, ms / 10))
      setTimeout(() => {
        clearInterval(tick)
        if (r.status !== 'running') return
        r.status = 'completed'; r.progress = 100; r.finishedAt = Date.now(); r.result = r.task.payload
        r.attempts[0].status = 'completed'; r.attempts[0].finishedAt = Date.now()
        emit({ kind: 'complete', taskId: r.id, attempt: 1, deviceId: dev.id, at: Date.now(), result: r.result })
      }, ms)
    }, 5)
  }
  const submit = (spec: unknown, extra: Partial<TaskRecord> = {}): string => {
    const s = spec as Record<string, unknown>
    const taskType = (s.taskType ?? s.task_type) as string
    if (!['echo', 'sleep'].includes(taskType)) {
      // like the real cluster: stays pending with a reason
    }
    if (s.priority !== undefined && !['urgent', 'high', 'normal', 'low', 'background', 1, 2, 3, 4, 5].includes(s.priority as string)) {
      throw typedError('invalid_payload', 'priority: must be urgent..background or 1..5', 'priority')
    }
    const id = `t${String(++seq).padStart(6, '0')}`
    const now = Date.now()
    const r: TaskRecord = {
      id, taskType, status: 'queued', priority: 3, progress: 0, attempts: [], createdAt: now, submittedAt: now,
      task: { id, taskType, payload: s.payload ?? {}, priority: 3, requirements: {} as never, requiredPermissions: [], retryCount: 0, createdAt: now },
      ...extra
    }
    tasks.set(id, r)
    emit({ kind: 'submit', taskId: id, at: now })
    if (['echo', 'sleep'].includes(taskType)) run(r)
    else { r.status = 'pending'; r.pendingReason = `no device runs task type "${taskType}"` }
    return id
  }
  const get = (id: string): TaskRecord => {
    const r = tasks.get(id)
    if (r === undefined) throw typedError('not_found', `task ${id} not found`)
    return r
  }
  const scheduler: ClusterScheduler = {
    submitTask: async (t) => submit(t),
    submitBatch: async (b) => {
      const id = `b${++seq}`
      const taskIds = ((b as { tasks: unknown[] }).tasks).map(t => submit(t, { batchId: id }))
      batches.set(id, taskIds)
      return { id, taskIds }
    },
    submitWorkflow: async (w) => ({ id: `w${++seq}`, taskIds: ((w as { steps?: Array<{ task: unknown }> }).steps ?? []).map(s => submit(s.task)) }),
    cancelTask: async (id) => {
      const r = get(id)
      if (r.status === 'cancelled') return r // as the state machine: a cancel again answers the same
      if (['completed', 'failed', 'timeout'].includes(r.status)) throw typedError('conflict', `task ${id} is already ${r.status}`)
      r.status = 'cancelled'; r.finishedAt = Date.now()
      emit({ kind: 'error', taskId: id, attempt: 1, at: Date.now(), error: { type: 'cancelled', message: 'cancelled' }, final: true, status: 'cancelled' })
      return r
    },
    getTaskStatus: async (id) => tasks.get(id),
    waitForResult: async (id, opts) => {
      const r = get(id)
      const end = Date.now() + (opts?.timeoutMs ?? 30000)
      while (!['completed', 'failed', 'cancelled', 'timeout'].includes(r.status)) {
        if (Date.now() > end) throw typedError('timeout', 'timed out waiting')
        await new Promise(resolve => setTimeout(resolve, 10))
      }
      return r
    },
    listTasks: async (f) => [...tasks.values()].filter(t => (f?.status === undefined || t.status === f.status) && (f?.deviceId === undefined || t.deviceId === f.deviceId)).slice(-(f?.limit ?? 100)).reverse(),
    getActiveTasks: async () => [...tasks.values()].filter(t => t.status === 'running'),
    getQueueStatistics: async () => {
      const q = [...tasks.values()].filter(t => t.status === 'queued' || t.status === 'pending')
      return { size: q.length, byPriority: { URGENT: 0, HIGH: 0, NORMAL: q.length, LOW: 0, BACKGROUND: 0 }, avgWaitTimeSeconds: 0.2, running: [...tasks.values()].filter(t => t.status === 'running').length, pending: q.length }
    },
    getBatchProgress: async (id) => {
      const ids = batches.get(id)
      if (ids === undefined) throw typedError('not_found', `batch ${id} not found`)
      const rs = ids.map(get)
      const c = (s: string): number => rs.filter(r => r.status === s).length
      return { id, name: 'batch', total: rs.length, completed: c('completed'), failed: c('failed'), running: c('running'), pending: c('pending') + c('queued'), cancelled: c('cancelled') }
    },
    getWorkflowStatus: async (id) => { throw typedError('not_found', `workflow ${id} not found`) },
    getTaskMetrics: async (o) => {
      const all = [...tasks.values()]
      const done = all.filter(t => t.status === 'completed').length
      const failed = all.filter(t => t.status === 'failed').length
      return { period: o?.period ?? '24h', totalTasks: all.length, completed: done, failed, successRate: done + failed === 0 ? 100 : 100 * done / (done + failed), avgExecutionTime: 0.03, deviceUtilization: 20, throughputPerMinute: done, byDevice: {} }
    },
    setRole: async () => {},
    addLifecycleHandler: (_h: TaskLifecycleHandler) => () => {}
  }
  let term = 1
  return {
    id: devices[0].id,
    name,
    dataDir: '/tmp/none',
    scheduler,
    registry: undefined,
    onEvent: (l) => { listeners.add(l); return () => { listeners.delete(l) } },
    nodes: async () => devices,
    raftStatus: () => ({ term: term, commitIndex: seq, appliedIndex: seq, leaderId: devices[0].id, role: 'leader', leaderChanges: 1, voters: [devices[0].id, devices[1].id], learners: [] }),
    multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001'],
    apiUrl: () => undefined,
    stop: async () => { term++ }
  }
}

export type { ClusterEvent }
