// The surface of a started node, as the HTTP API, the dashboard, the CLI and library users see it.
// src/node/node.ts implements it (startNode); src/node/api builds on it and on nothing else.

import type { TaskRecord, ClusterEvent, Role, ClusterSettings, ClusterSettingsPatch } from '../sched/commands.js'
import type { DeviceBid, TaskStatus } from '../sched/types.js'
import type { DeviceReliabilityView } from '../sched/state-machine.js'
import type { TaskRegistry } from './handlers/registry.js'

/** A task spec as users write it (camelCase or the seed's snake_case); parsed by src/sched. */
export type TaskSpecInput = Record<string, unknown>

export interface SubmitOptions { idempotencyKey?: string, principal?: string }

export interface QueueStatistics {
  size: number, byPriority: Record<string, number>, avgWaitTimeSeconds: number, running: number, pending: number
  /** task records this node keeps (not yet evicted), and tasks evicted since the cluster began */
  stored?: number, evicted?: number
}
export interface BatchProgress { id: string, name: string, total: number, completed: number, failed: number, running: number, pending: number, cancelled: number }
export interface WorkflowStatus { id: string, name: string, status: 'running' | 'completed' | 'failed' | 'cancelled', steps: Array<{ name: string, taskId: string, status: TaskStatus, dependsOn: string[] }> }
export interface TaskMetrics {
  period: string
  totalTasks: number
  completed: number
  failed: number
  successRate: number          // percent 0..100
  avgExecutionTime: number     // seconds
  deviceUtilization: number    // percent 0..100
  throughputPerMinute: number
  byDevice: Record<string, { completed: number, failed: number, avgResponseTime: number }>
}

/** seed's TaskLifecycleHandler, camelCase; every method optional */
export interface TaskLifecycleHandler {
  onSubmit?: (task: TaskRecord) => void
  onSchedule?: (task: TaskRecord, deviceId: string) => void
  onStart?: (task: TaskRecord) => void
  onProgress?: (task: TaskRecord, progress: number) => void
  onComplete?: (task: TaskRecord, result: unknown) => void
  onError?: (task: TaskRecord, error: { type: string, message: string }) => void
}

export interface NodeInfo extends DeviceBid {
  id: string
  isLeader: boolean
  isVoter: boolean
  lastSeenMs: number
  alive: boolean
  /** replicated reliability: score, decayed counts, 'ok' | 'quarantined' | 'probation' (src/sched/reliability.ts) */
  reliability?: DeviceReliabilityView
}

/** this node's direct links (src/node/transport/direct.ts) */
export interface DirectLinkStatus {
  /** the TCP port they listen on */
  port: number
  /** sockets open now (one per peer, protocol and direction) */
  open: number
  /** peers with at least one open link */
  peers: number
  /** times a link could not be opened and the traffic went over libp2p instead */
  failures: number
  /** sockets refused: a ticket unknown, used or expired */
  refused: number
}

export interface RaftStatus {
  term: number, commitIndex: number, appliedIndex: number, leaderId: string | null, role: string, leaderChanges: number, voters: string[], learners: string[]
  /** present when this node stopped applying the log at a committed entry it could not apply (a bug; see its error log) */
  halted?: { index: number, reason: string }
  /** present while this node is out of Raft because its log's storage refused a write (e.g. 'disk full'); it rejoins by itself */
  storageDown?: string
}

export interface ClusterScheduler {
  submitTask (task: unknown, opts?: SubmitOptions): Promise<string>
  submitBatch (batch: unknown, opts?: SubmitOptions): Promise<{ id: string, taskIds: string[] }>
  submitWorkflow (workflow: unknown, opts?: SubmitOptions): Promise<{ id: string, taskIds: string[] }>
  cancelTask (taskId: string, opts?: { principal?: string }): Promise<TaskRecord>
  /** `liveFields: false`: this node's replicated record, without asking the leader for progress / pendingReason */
  getTaskStatus (taskId: string, opts?: { liveFields?: boolean }): Promise<TaskRecord | undefined>
  waitForResult (taskId: string, opts?: { timeoutMs?: number }): Promise<TaskRecord>
  listTasks (filter?: { status?: TaskStatus, deviceId?: string, limit?: number, order?: 'oldest' | 'newest' }): Promise<TaskRecord[]>
  getActiveTasks (): Promise<TaskRecord[]>
  getQueueStatistics (): Promise<QueueStatistics>
  getBatchProgress (batchId: string): Promise<BatchProgress>
  getWorkflowStatus (workflowId: string): Promise<WorkflowStatus>
  getTaskMetrics (opts?: { period?: string }): Promise<TaskMetrics>
  setRole (principal: string, role: Role | null, opts?: { principal?: string }): Promise<void>
  /** the cluster settings (retention, queue size, rate limits, reliability, preemption) as this node applied them */
  getSettings (): ClusterSettings
  /** admin only: fields given replace the current ones, null restores a default; returns the new settings */
  updateSettings (patch: ClusterSettingsPatch, opts?: { principal?: string }): Promise<ClusterSettings>
  /** returns an unsubscribe function */
  addLifecycleHandler (handler: TaskLifecycleHandler): () => void
}

/** what `drain` answers: this device's state after the call */
export interface DrainStatus { id: string, state: 'active' | 'cordoned' | 'draining', reason?: string, drainLeftMs?: number, runningTasks: number }

export interface ClusterNode {
  /**
   * Stop taking new work and hand running tasks off within `deadlineMs` (default 120000); with
   * `wait`, resolve once nothing runs here any more (or the deadline passed).
   */
  drain (opts?: { deadlineMs?: number, reason?: string, wait?: boolean }): Promise<DrainStatus>
  /** lift an operator's drain (the automatic policy may still cordon) */
  undrain (): Promise<DrainStatus>
  readonly id: string
  readonly name: string
  readonly dataDir: string
  readonly scheduler: ClusterScheduler
  /** custom handlers: register more at run time (the node advertises them with its next bid) */
  readonly registry: TaskRegistry
  /** every applied event, plus 'progress' events relayed from workers */
  onEvent (listener: (event: ClusterEvent | { kind: 'progress', taskId: string, attempt: number, deviceId: string, at: number, progress: number }) => void): () => void
  nodes (): Promise<NodeInfo[]>
  raftStatus (): RaftStatus
  /** undefined when the node runs without direct links (`--no-direct-links`) */
  directLinks? (): DirectLinkStatus | undefined
  multiaddrs (): string[]
  apiUrl (): string | undefined
  stop (): Promise<void>
}
