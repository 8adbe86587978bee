// Plain data shapes shared by every layer. Everything that crosses the wire, the Raft log or a
// snapshot is one of these plain objects (msgpackr-friendly, no classes), so the cluster state
// machine stays cheap to copy and to snapshot. Classes with behaviour (Task, TaskQueue, ...) wrap them.

export enum TaskPriority { URGENT = 1, HIGH = 2, NORMAL = 3, LOW = 4, BACKGROUND = 5 }

export type TaskStatus = 'pending' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'timeout'
export const TaskStatus = {
  PENDING: 'pending', QUEUED: 'queued', RUNNING: 'running', COMPLETED: 'completed',
  FAILED: 'failed', CANCELLED: 'cancelled', TIMEOUT: 'timeout'
} as const

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled', 'timeout'])

/** Error classes of the seed (retryable first), plus the ones the cluster itself produces. */
export type TaskErrorType =
  | 'network_error' | 'timeout_error' | 'resource_exhausted'               // retryable by default
  | 'invalid_payload' | 'permission_denied' | 'unsupported_operation'      // never retried
  | 'device_failure' | 'execution_error' | 'cancelled'
  | 'poisoned' | 'preempted'                                                 // the cluster's own verdicts
export const TaskErrorType = {
  NETWORK_ERROR: 'network_error', TIMEOUT_ERROR: 'timeout_error', RESOURCE_EXHAUSTED: 'resource_exhausted',
  INVALID_PAYLOAD: 'invalid_payload', PERMISSION_DENIED: 'permission_denied',
  UNSUPPORTED_OPERATION: 'unsupported_operation', DEVICE_FAILURE: 'device_failure',
  EXECUTION_ERROR: 'execution_error', CANCELLED: 'cancelled', POISONED: 'poisoned', PREEMPTED: 'preempted'
} as const

export type Platform = 'linux' | 'android' | 'windows' | 'macos'
export type DeviceRole = 'compute' | 'mobile' | 'storage'
export type Permission = 'read_files' | 'write_files' | 'network_access' | 'system_commands'
export const TaskPermissions = {
  READ_FILES: 'read_files', WRITE_FILES: 'write_files',
  NETWORK_ACCESS: 'network_access', SYSTEM_COMMANDS: 'system_commands'
} as const

export interface TaskRequirementsData {
  minCpuCores: number          // default 1
  minMemoryGb: number          // default 0
  minStorageGb: number         // default 0
  requiredPlatform?: Platform
  requiredArch?: string
  requiredRole?: DeviceRole
  maxCpuUsage?: number         // percent: device must be at or below
  maxMemoryUsage?: number      // percent
  timeoutSeconds: number       // default 300
  maxRetries: number           // default 3
  requiresInternet: boolean
  bandwidthMbps: number        // default 0
  requiresGpu: boolean
  requiresSensors: string[]
  exclusive: boolean
  excludeDevices: string[]
  /** how long the finished task stays queryable before eviction; unset = the cluster's retention */
  resultTtlSeconds?: number
}

export interface SandboxConfigData {
  allowNetwork: boolean
  allowFilesystem: boolean
  allowedPaths: string[]
  maxFileSizeBytes: number
  maxExecutionTimeSeconds: number
  memoryLimitBytes: number
  cpuLimitPercent: number
}

/** A task as submitted and as stored in the replicated state. */
export interface TaskData {
  id: string                   // sortable unique id (ULID-like), made by the submitting node
  taskType: string
  payload: unknown
  priority: TaskPriority
  requirements: TaskRequirementsData
  batchId?: string
  workflowId?: string
  sandboxConfig?: SandboxConfigData
  requiredPermissions: Permission[]
  retryCount: number
  createdAt: number            // ms since epoch, from the submitter's clock
  replaces?: string            // failover clone: the task it replaces
  /**
   * failover clone: the devices its chain was declared down on. They are in requirements.excludeDevices
   * too, but unlike the user's own exclusions the planner may go back to one of them when no other
   * device could ever take the task (scheduler.ts), instead of leaving it pending forever.
   */
  failedOn?: string[]
  idempotencyKey?: string
}

export interface TaskErrorData { type: TaskErrorType, message: string, details?: unknown }

export interface ResourceUsage { cpu: number, memory: number }  // cpu in percent, memory in MB

/** What a device gossips: capabilities + load. */
export interface DeviceBid {
  nodeId: string               // libp2p peer id string
  name: string
  incarnation: number          // bumps on every restart; (incarnation, seq) newer wins
  seq: number
  role: DeviceRole
  platform: Platform
  arch: string
  cpuCores: number
  memoryGb: number             // total
  storageGb: number            // free
  gpu: boolean
  sensors: string[]
  battery?: { percent: number, charging: boolean }
  internet: boolean
  bandwidthMbps: number
  taskTypes: string[]
  permissions: Permission[]
  sandbox: { network: boolean, memory: boolean, cpu: boolean, filesystem: boolean }
  cpuUsage: number             // percent 0..100
  memoryUsage: number          // percent 0..100
  memoryUsedGb: number
  activeTasks: number
  maxConcurrentTasks: number
  latencyMs: number            // to the leader; 0 for the leader itself
  exclusiveBusy?: boolean      // running an exclusive task
  /** what this node knows of the Raft cluster: lets fresh nodes decide to join or bootstrap */
  cluster?: { member: boolean, leaderId: string | null, term: number }
  /** API url of this node (for the dashboard's device list) */
  apiUrl?: string
  /** listen multiaddrs, so members that only met through a third node can dial each other */
  addrs?: string[]
  /**
   * peers this node is connected to and the addresses they announced: a node that knows another
   * only through a third (its one bootstrap address) can still dial it when the third dies before
   * relaying that node's own bid
   */
  peers?: Array<{ id: string, addrs: string[] }>
  /** the device policy's verdict (src/sched/device-policy.ts); absent = active (older nodes) */
  device?: DeviceStatusData
}

/** A device's own state: cordoned and draining devices get no new work; draining ones hand theirs off. */
export interface DeviceStatusData {
  state: 'active' | 'cordoned' | 'draining'
  /** for people: "on battery 43 %", "hot 71 °C", "drained by operator" */
  reason?: string
  /** draining: ms left until the deadline, when the bid was made (a duration: clocks differ) */
  drainLeftMs?: number
}
