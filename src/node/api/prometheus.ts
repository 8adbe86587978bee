// /metrics in Prometheus text format. Counters and histograms move with the node's applied events (every
// node applies every event, so any node's scrape shows the whole cluster); gauges are read from the node
// at scrape time. Each server gets its own Registry, so several nodes can share one process (tests).

import { Registry, Counter, Gauge, Histogram } from './prom-text.js'
import type { ClusterNode, NodeInfo, QueueStatistics } from '../api-types.js'
import { MAX_TRACKED_TASKS } from './limits.js'

type NodeEvent = Parameters<Parameters<ClusterNode['onEvent']>[0]>[0]

const P = 'retire_cluster_'

export class ClusterMetrics {
  readonly registry = new Registry()
  private readonly taskEvents = new Counter({ name: `${P}task_events_total`, help: 'Lifecycle events applied, by kind', labelNames: ['kind'], registers: [this.registry] })
  private readonly finished = new Counter({ name: `${P}tasks_finished_total`, help: 'Tasks that reached a final status, by status', labelNames: ['status'], registers: [this.registry] })
  private readonly submitted = new Counter({ name: `${P}tasks_submitted_total`, help: 'Tasks submitted', registers: [this.registry] })
  private readonly tasksNow = new Gauge({ name: `${P}tasks`, help: 'Tasks not yet finished, by status', labelNames: ['status'], registers: [this.registry] })
  private readonly queueDepth = new Gauge({ name: `${P}queue_depth`, help: 'Queued tasks by priority', labelNames: ['priority'], registers: [this.registry] })
  private readonly queueWait = new Gauge({ name: `${P}queue_avg_wait_seconds`, help: 'Average time queued tasks have waited', registers: [this.registry] })
  private readonly schedLatency = new Histogram({
    name: `${P}scheduling_latency_seconds`,
    help: 'Time from submit to first assignment',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry]
  })

  private readonly execTime = new Histogram({
    name: `${P}task_execution_seconds`,
    help: 'Time from start (or assignment, for tasks too fast to report a start) to completion or failure of an attempt',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800],
    registers: [this.registry]
  })

  private readonly raftTerm = new Gauge({ name: `${P}raft_term`, help: 'Current Raft term', registers: [this.registry] })
  private readonly raftCommit = new Gauge({ name: `${P}raft_commit_index`, help: 'Raft commit index', registers: [this.registry] })
  private readonly raftApplied = new Gauge({ name: `${P}raft_applied_index`, help: 'Raft applied index', registers: [this.registry] })
  private readonly raftLeaderChanges = new Gauge({ name: `${P}raft_leader_changes`, help: 'Leader changes this node has seen since it started', registers: [this.registry] })
  private readonly raftIsLeader = new Gauge({ name: `${P}raft_is_leader`, help: '1 if this node is the leader', registers: [this.registry] })
  private readonly raftVoters = new Gauge({ name: `${P}raft_voters`, help: 'Number of Raft voters', registers: [this.registry] })
  private readonly directOpen = new Gauge({ name: `${P}direct_links`, help: 'Direct links open now (one socket per peer, protocol and direction)', registers: [this.registry] })
  private readonly directFailures = new Counter({ name: `${P}direct_link_failures_total`, help: 'Direct links that could not be opened (the traffic went over libp2p)', registers: [this.registry] })
  private readonly directRefused = new Counter({ name: `${P}direct_link_refusals_total`, help: 'Direct-link sockets refused: unknown, used or expired ticket', registers: [this.registry] })
  private readonly devCpu = new Gauge({ name: `${P}device_cpu_usage_percent`, help: 'Device CPU usage', labelNames: ['device', 'name'], registers: [this.registry] })
  private readonly devMem = new Gauge({ name: `${P}device_memory_usage_percent`, help: 'Device memory usage', labelNames: ['device', 'name'], registers: [this.registry] })
  private readonly devActive = new Gauge({ name: `${P}device_active_tasks`, help: 'Tasks running on the device', labelNames: ['device', 'name'], registers: [this.registry] })
  private readonly devAlive = new Gauge({ name: `${P}device_alive`, help: '1 if the device is alive', labelNames: ['device', 'name'], registers: [this.registry] })
  private readonly devReliability = new Gauge({ name: `${P}device_reliability`, help: 'Device reliability R = (s+3)/(s+f+4) of its decayed success/failure counts (0.75 unknown)', labelNames: ['device', 'name'], registers: [this.registry] })
  private readonly devBattery = new Gauge({ name: `${P}device_battery_percent`, help: 'Device battery charge (devices with a battery)', labelNames: ['device', 'name'], registers: [this.registry] })
  private readonly devices = new Gauge({ name: `${P}devices`, help: 'Known devices', labelNames: ['state'], registers: [this.registry] })
  // this node's process, under the names prom-client's default metrics use (dashboards know them)
  private readonly rss = new Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes', registers: [this.registry] })
  private readonly cpuSeconds = new Counter({ name: 'process_cpu_seconds_total', help: 'User and system CPU time spent in seconds', registers: [this.registry] })
  private readonly heap = new Gauge({ name: 'nodejs_heap_size_used_bytes', help: 'V8 heap in use, in bytes', registers: [this.registry] })
  private readonly heapTotal = new Gauge({ name: 'nodejs_heap_size_total_bytes', help: 'V8 heap reserved, in bytes', registers: [this.registry] })
  private readonly external = new Gauge({ name: 'nodejs_external_memory_bytes', help: 'Memory of C++ objects bound to JS (buffers included), in bytes', registers: [this.registry] })

  private cpuCounted = 0
  private directCounted = { failures: 0, refused: 0 }
  /** submit and start times by task id, bounded (Map keeps insertion order: oldest first) */
  private readonly submittedAt = new Map<string, number>()
  private readonly startedAt = new Map<string, number>()
  private readonly unsubscribe: () => void

  constructor (private readonly node: ClusterNode) {
    this.unsubscribe = node.onEvent(ev => this.observe(ev))
  }

  close (): void {
    this.unsubscribe()
  }

  /** Refreshes the gauges from the node and renders the text exposition. */
  async render (): Promise<string> {
    await this.refresh()
    return await this.registry.metrics()
  }

  get contentType (): string {
    return this.registry.contentType
  }

  /** Hot path: one switch and a map operation or two per event. */
  private observe (ev: NodeEvent): void {
    this.taskEvents.inc({ kind: ev.kind })
    switch (ev.kind) {
      case 'submit':
        this.submitted.inc()
        track(this.submittedAt, ev.taskId, ev.at)
        break
      case 'schedule': {
        const t = this.submittedAt.get(ev.taskId)
        if (t !== undefined) {
          this.schedLatency.observe(Math.max(0, ev.at - t) / 1000)
          this.submittedAt.delete(ev.taskId)
        }
        // Workers skip the 'start' entry for tasks that finish fast; then assignment time stands in.
        track(this.startedAt, ev.taskId, ev.at)
        break
      }
      case 'start':
        track(this.startedAt, ev.taskId, ev.at)
        break
      case 'complete':
        this.endAttempt(ev.taskId, ev.at, 'completed')
        this.finished.inc({ status: 'completed' })
        break
      case 'error':
        this.endAttempt(ev.taskId, ev.at, ev.status)
        if (ev.final) this.finished.inc({ status: ev.status })
        break
      default:
    }
  }

  private endAttempt (taskId: string, at: number, outcome: string): void {
    const t = this.startedAt.get(taskId)
    if (t === undefined) return
    this.execTime.observe({ outcome }, Math.max(0, at - t) / 1000)
    this.startedAt.delete(taskId)
  }

  /** read everything the gauges show, just before a scrape */
  private async refresh (): Promise<void> {
    this.refreshRaft()
    this.refreshDirect()
    const [queue, nodes] = await Promise.all([
      this.node.scheduler.getQueueStatistics().catch(() => undefined),
      this.node.nodes().catch(() => [])
    ])
    if (queue !== undefined) this.refreshQueue(queue)
    this.refreshDevices(nodes)
    this.refreshProcess()
  }

  private refreshRaft (): void {
    const raft = this.node.raftStatus()
    this.raftTerm.set(raft.term)
    this.raftCommit.set(raft.commitIndex)
    this.raftApplied.set(raft.appliedIndex)
    this.raftLeaderChanges.set(raft.leaderChanges)
    this.raftIsLeader.set(raft.leaderId === this.node.id ? 1 : 0)
    this.raftVoters.set(raft.voters.length)
  }

  private refreshDirect (): void {
    const d = this.node.directLinks?.()
    if (d === undefined) return
    this.directOpen.set(d.open)
    this.directFailures.inc(Math.max(0, d.failures - this.directCounted.failures))
    this.directRefused.inc(Math.max(0, d.refused - this.directCounted.refused))
    this.directCounted = { failures: d.failures, refused: d.refused }
  }

  private refreshQueue (queue: QueueStatistics): void {
    this.queueDepth.reset()
    for (const [priority, n] of Object.entries(queue.byPriority)) this.queueDepth.set({ priority }, n)
    this.queueWait.set(queue.avgWaitTimeSeconds)
    this.tasksNow.set({ status: 'pending' }, queue.pending)
    this.tasksNow.set({ status: 'running' }, queue.running)
  }

  private refreshDevices (nodes: NodeInfo[]): void {
    // Reset so a device that left the cluster stops being reported.
    for (const g of [this.devCpu, this.devMem, this.devActive, this.devAlive, this.devBattery, this.devReliability]) g.reset()
    let alive = 0
    let quarantined = 0
    let probation = 0
    for (const n of nodes) {
      const labels = { device: n.id, name: n.name }
      this.devCpu.set(labels, n.cpuUsage)
      this.devMem.set(labels, n.memoryUsage)
      this.devActive.set(labels, n.activeTasks)
      this.devAlive.set(labels, n.alive ? 1 : 0)
      if (n.battery !== undefined) this.devBattery.set(labels, n.battery.percent)
      if (n.reliability !== undefined) this.devReliability.set(labels, n.reliability.score)
      if (n.reliability?.health === 'quarantined') quarantined++
      if (n.reliability?.health === 'probation') probation++
      if (n.alive) alive++
    }
    this.devices.set({ state: 'alive' }, alive)
    this.devices.set({ state: 'down' }, nodes.length - alive)
    // not exclusive of alive/down: a quarantined device is usually alive
    this.devices.set({ state: 'quarantined' }, quarantined)
    this.devices.set({ state: 'probation' }, probation)
  }

  private refreshProcess (): void {
    const m = process.memoryUsage()
    this.rss.set(m.rss)
    this.heap.set(m.heapUsed)
    this.heapTotal.set(m.heapTotal)
    this.external.set(m.external)
    const cpu = process.cpuUsage()
    const cpuNow = (cpu.user + cpu.system) / 1e6
    this.cpuSeconds.inc(Math.max(0, cpuNow - this.cpuCounted))
    this.cpuCounted = cpuNow
  }
}

function track (map: Map<string, number>, taskId: string, at: number): void {
  if (map.size >= MAX_TRACKED_TASKS) {
    const oldest = map.keys().next().value
    if (oldest !== undefined) map.delete(oldest)
  }
  map.set(taskId, at)
}
