// Schemas of every wire message, the Raft entry commands and the gossiped bid, plus one schema table
// per protocol for decode(). Validation here is structural (types, sizes, enums); what a task spec
// means (defaults, snake_case, permissions) is src/sched's job.
//
//   decode(bytes, RAFT_MESSAGES)    → { type: 'raft', body: Message }
//   decode(bytes, CLIENT_MESSAGES)  → requests and their '<name>Res' replies
//   decode(bytes, EXEC_MESSAGES)    → assignBatch/assignBatchRes, results/resultsAck, started, progress, cancelAttempt, ping/pong
//
// Every type here is sent and served by src/node (node.ts, client/service.ts); a type nobody
// sends is not kept "for later" (it would be an untested door into the node).
//   decode(bytes, BID_MESSAGES, MAX_BID_BYTES) → { type: 'bid', body: DeviceBid }

import { any, arr, bool, bytes, nullable, num, obj, oneOf, record, sizedAny, str, union, type Infer, type Schema } from './schema.js'
import * as L from './limits.js'
import type { Message, Entry, Snapshot, ConfState, HardState } from './raft/types.js'
import type { DeviceBid, TaskData } from '../sched/types.js'
import type { AttemptResult, ClusterSettings, Command, TaskRecord } from '../sched/commands.js'

// ---- building blocks ------------------------------------------------------------------------

const id = () => str({ max: L.MAX_ID_LENGTH, min: 1 })
/** batch/workflow ids and idempotency keys: user-chosen keys */
const key = () => str({ max: L.MAX_KEY_LENGTH, min: 1 })
const name = () => str({ max: L.MAX_NAME_LENGTH })
const text = () => str({ max: L.MAX_TEXT_LENGTH })
const count = (max = Number.MAX_SAFE_INTEGER) => num({ int: true, min: 0, max })
/** ms since epoch (or any non-negative time in ms) */
const timeMs = () => num({ min: 0 })
const percent = () => num({ min: 0, max: 100 })
const names = () => arr(name(), { max: L.MAX_LIST_ITEMS })
const ids = () => arr(id(), { max: L.MAX_LIST_ITEMS })

export const PermissionSchema = oneOf('read_files', 'write_files', 'network_access', 'system_commands')
export const PlatformSchema = oneOf('linux', 'android', 'windows', 'macos')
export const DeviceRoleSchema = oneOf('compute', 'mobile', 'storage')
export const TaskStatusSchema = oneOf('pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timeout')
export const TaskErrorTypeSchema = oneOf('network_error', 'timeout_error', 'resource_exhausted', 'invalid_payload',
  'permission_denied', 'unsupported_operation', 'device_failure', 'execution_error', 'cancelled', 'poisoned', 'preempted')
export const PrincipalRoleSchema = oneOf('admin', 'operator', 'submitter', 'viewer')

export const TaskRequirementsSchema = obj({
  minCpuCores: num({ min: 0, max: 4096 }),
  minMemoryGb: num({ min: 0 }),
  minStorageGb: num({ min: 0 }),
  requiredPlatform: PlatformSchema,
  requiredArch: name(),
  requiredRole: DeviceRoleSchema,
  maxCpuUsage: percent(),
  maxMemoryUsage: percent(),
  timeoutSeconds: num({ min: 0, max: L.MAX_TASK_TIMEOUT_SECONDS }),
  maxRetries: count(L.MAX_TASK_RETRIES),
  requiresInternet: bool(),
  bandwidthMbps: num({ min: 0 }),
  requiresGpu: bool(),
  requiresSensors: names(),
  exclusive: bool(),
  excludeDevices: arr(id(), { max: L.MAX_EXCLUDE_DEVICES }),
  resultTtlSeconds: count(L.MAX_RESULT_TTL_SECONDS)
}, { optional: ['requiredPlatform', 'requiredArch', 'requiredRole', 'maxCpuUsage', 'maxMemoryUsage', 'resultTtlSeconds'], strict: true })

export const SandboxConfigSchema = obj({
  allowNetwork: bool(),
  allowFilesystem: bool(),
  allowedPaths: arr(str({ max: L.MAX_PATH_LENGTH }), { max: L.MAX_LIST_ITEMS }),
  maxFileSizeBytes: num({ min: 0 }),
  maxExecutionTimeSeconds: num({ min: 0 }),
  memoryLimitBytes: num({ min: 0 }),
  cpuLimitPercent: num({ min: 0 })
}, { strict: true })

/** A task as stored in the replicated state: strict, so unknown fields never reach the log. */
export const TaskDataSchema: Schema<TaskData> = obj({
  id: id(),
  taskType: str({ max: L.MAX_TASK_TYPE_LENGTH }),
  payload: sizedAny({ maxBytes: L.MAX_TASK_PAYLOAD_BYTES }),
  priority: num({ int: true, min: 1, max: 5 }),
  requirements: TaskRequirementsSchema,
  batchId: key(),
  workflowId: key(),
  sandboxConfig: SandboxConfigSchema,
  requiredPermissions: arr(PermissionSchema, { max: 8 }),
  retryCount: count(),
  createdAt: timeMs(),
  replaces: id(),
  failedOn: arr(id(), { max: L.MAX_EXCLUDE_DEVICES }),
  idempotencyKey: key()
}, { optional: ['payload', 'batchId', 'workflowId', 'sandboxConfig', 'replaces', 'failedOn', 'idempotencyKey'], strict: true }) as Schema<TaskData>

export const TaskErrorSchema = obj({ type: TaskErrorTypeSchema, message: text(), details: sizedAny({ maxBytes: L.MAX_ERROR_DETAILS_BYTES }) },
  { optional: ['details'] })
export const ResourceUsageSchema = obj({ cpu: num({ min: 0 }), memory: num({ min: 0 }) })

export const AttemptResultSchema: Schema<AttemptResult> = obj({
  taskId: id(),
  attempt: count(),
  deviceId: id(),
  status: oneOf('completed', 'failed', 'timeout', 'cancelled'),
  result: sizedAny({ maxBytes: L.MAX_RESULT_BYTES }),
  error: TaskErrorSchema,
  startedAt: timeMs(),
  finishedAt: timeMs(),
  resourceUsage: ResourceUsageSchema
}, { optional: ['result', 'error', 'resourceUsage'], strict: true })

export const BatchInfoSchema = obj({ id: key(), name: name(), description: text() }, { optional: ['description'], strict: true })
/** one chunk of a batch too big for one submit (see BatchChunk in sched/commands.ts) */
export const BatchChunkSchema = obj({ index: count(L.MAX_BATCH_TASKS), count: count(L.MAX_BATCH_TASKS) }, { strict: true })
export const WorkflowStepSchema = obj({ name: name(), task: TaskDataSchema, dependsOn: arr(name(), { max: L.MAX_WORKFLOW_STEPS }) }, { strict: true })
export const WorkflowInfoSchema = obj({ id: key(), name: name(), steps: arr(WorkflowStepSchema, { max: L.MAX_WORKFLOW_STEPS }) }, { strict: true })

// ---- state-machine commands (Raft entry data) -------------------------------------------------

export const RateLimitRuleSchema = obj({
  scope: oneOf('type', 'principal'),
  key: name(),
  count: num({ int: true, min: 1, max: L.MAX_RATE_LIMIT_COUNT }),
  perSeconds: num({ min: 0.001, max: L.MAX_RATE_LIMIT_PERIOD_SECONDS }),
  burst: num({ int: true, min: 1, max: L.MAX_RATE_LIMIT_COUNT })
}, { optional: ['burst'], strict: true })
const tuning = () => num({ min: 0, max: L.MAX_RESULT_TTL_SECONDS * 1000 })
/** overrides of src/sched/reliability.ts's DEFAULT_RELIABILITY (the state machine checks the ranges again) */
const RELIABILITY_KEYS = ['halfLifeMs', 'weight', 'quarantineFailures', 'quarantineWindowMs', 'quarantineBaseMs', 'quarantineMaxMs',
  'quarantineHistoryMs', 'poisonDevices', 'maxQuarantinedFraction', 'knownDeviceMs'] as const
export const ReliabilitySettingsSchema = obj(Object.fromEntries(RELIABILITY_KEYS.map(k => [k, tuning()])), { optional: [...RELIABILITY_KEYS], strict: true })
/** overrides of src/sched/preemption.ts's DEFAULT_PREEMPTION */
export const PreemptionSettingsSchema = obj({
  enabled: bool(), maxPreemptorPriority: num({ int: true, min: 0, max: 5 }), minVictimPriority: num({ int: true, min: 0, max: 6 }), minPriorityGap: num({ int: true, min: 0, max: 5 })
}, { optional: ['enabled', 'maxPreemptorPriority', 'minVictimPriority', 'minPriorityGap'], strict: true })
export const ClusterSettingsPatchSchema = obj({
  retentionMs: nullable(num({ int: true, min: 0, max: L.MAX_RESULT_TTL_SECONDS * 1000 })),
  maxQueueSize: nullable(num({ int: true, min: 1, max: L.MAX_QUEUE_SIZE_SETTING })),
  maxRetainedTasks: nullable(num({ int: true, min: 0, max: L.MAX_RETAINED_TASKS_SETTING })),
  rateLimits: nullable(arr(RateLimitRuleSchema, { max: L.MAX_RATE_LIMIT_RULES })),
  reliability: nullable(ReliabilitySettingsSchema),
  preemption: nullable(PreemptionSettingsSchema)
}, { optional: ['retentionMs', 'maxQueueSize', 'maxRetainedTasks', 'rateLimits', 'reliability', 'preemption'], strict: true })

const tasks = () => arr(TaskDataSchema, { max: L.MAX_BATCH_TASKS })

export const CommandSchema: Schema<Command> = union('type', {
  submit: obj({ requestId: id(), principal: name(), at: timeMs(), tasks: tasks(), batch: BatchInfoSchema, workflow: WorkflowInfoSchema, chunk: BatchChunkSchema },
    { optional: ['batch', 'workflow', 'chunk'], strict: true }),
  assign: obj({ at: timeMs(), assignments: arr(obj({ taskId: id(), attempt: count(), deviceId: id(), relaxed: bool() }, { strict: true, optional: ['relaxed'] }), { max: L.MAX_ITEMS_PER_COMMAND }) }, { strict: true }),
  started: obj({ at: timeMs(), taskId: id(), attempt: count(), deviceId: id() }, { strict: true }),
  finished: obj({ at: timeMs(), results: arr(AttemptResultSchema, { max: L.MAX_ITEMS_PER_COMMAND }) }, { strict: true }),
  refused: obj({ at: timeMs(), taskId: id(), attempt: count(), deviceId: id(), reason: text() }, { strict: true }),
  deviceDown: obj({ at: timeMs(), deviceId: id() }, { strict: true }),
  cancel: obj({ at: timeMs(), taskId: id(), principal: name() }, { strict: true }),
  expire: obj({ at: timeMs(), taskId: id(), attempt: count() }, { strict: true }),
  setRole: obj({ at: timeMs(), principal: name(), role: nullable(PrincipalRoleSchema), by: name() }, { strict: true }),
  handoff: obj({ at: timeMs(), phase: oneOf('clone', 'release', 'abort'), taskId: id(), attempt: count(), deviceId: id(), reason: text() }, { strict: true }),
  preempt: obj({ at: timeMs(), taskId: id(), attempt: count(), deviceId: id(), forTaskId: id() }, { strict: true }),
  evict: obj({
    at: timeMs(),
    taskIds: arr(id(), { max: L.MAX_EVICT_IDS_PER_COMMAND }),
    batchIds: arr(key(), { max: L.MAX_EVICT_IDS_PER_COMMAND }),
    workflowIds: arr(key(), { max: L.MAX_EVICT_IDS_PER_COMMAND })
  }, { strict: true }),
  settings: obj({ at: timeMs(), by: name(), settings: ClusterSettingsPatchSchema }, { strict: true })
}) as Schema<Command>

export const CommandList: Schema<Command[]> = arr(CommandSchema, { max: L.MAX_COMMANDS_PER_ENTRY })

// ---- raft ---------------------------------------------------------------------------------------

const index = () => count()
export const ConfStateSchema = obj({ voters: arr(id(), { max: L.MAX_MEMBERS }), learners: arr(id(), { max: L.MAX_MEMBERS }) }) as Schema<ConfState>
export const HardStateSchema = obj({ term: index(), vote: nullable(id()), commit: index() }) as Schema<HardState>
export const EntrySchema = obj({ term: index(), index: index(), type: oneOf('normal', 'conf'), data: bytes({ max: L.MAX_ENTRY_DATA_BYTES }) }) as Schema<Entry>
export const SnapshotSchema = obj({
  meta: obj({ index: index(), term: index(), conf: ConfStateSchema }),
  data: bytes({ max: L.MAX_SNAPSHOT_BYTES })
}) as Schema<Snapshot>
export const ConfChangeSchema = obj({ type: oneOf('addVoter', 'addLearner', 'removeNode'), nodeId: id() })

/** Raft messages that may cross the wire (hup, beat, prop, snapStatus, unreachable are local only). */
export const WIRE_RAFT_TYPES = ['app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat',
  'heartbeatResp', 'snap', 'transferLeader', 'timeoutNow', 'readIndex', 'readIndexResp', 'durable'] as const

export const RaftMessageSchema: Schema<Message> = obj({
  type: oneOf(...WIRE_RAFT_TYPES),
  from: id(),
  to: id(),
  term: index(),
  logTerm: index(),
  index: index(),
  entries: arr(EntrySchema, { max: L.MAX_ENTRIES_PER_MSG }),
  commit: index(),
  reject: bool(),
  rejectHint: index(),
  snapshot: SnapshotSchema,
  context: bytes({ max: L.MAX_CONTEXT_BYTES }),
  durable: index()
}, { optional: ['logTerm', 'index', 'entries', 'commit', 'reject', 'rejectHint', 'snapshot', 'context', 'durable'] }) as Schema<Message>

/**
 * One piece of a 'snap' message too big for one frame: `msg` is that message with empty snapshot
 * data; the pieces' `data`, in `offset` order, make up its `total` bytes (snapshot-transfer.ts).
 */
export const SnapChunkSchema = obj({
  msg: RaftMessageSchema,
  offset: count(),
  total: count(),
  data: bytes({ max: L.SNAPSHOT_CHUNK_BYTES })
}, { strict: true }) as Schema<{ msg: Message, offset: number, total: number, data: Uint8Array }>

export const RAFT_MESSAGES = { raft: RaftMessageSchema, snapChunk: SnapChunkSchema }

// ---- gossip: device bid -----------------------------------------------------------------------

export const DeviceBidSchema: Schema<DeviceBid> = obj({
  nodeId: id(),
  name: name(),
  incarnation: count(),
  seq: count(),
  role: DeviceRoleSchema,
  platform: PlatformSchema,
  arch: name(),
  cpuCores: num({ min: 0, max: 4096 }),
  memoryGb: num({ min: 0 }),
  storageGb: num({ min: 0 }),
  gpu: bool(),
  sensors: names(),
  battery: obj({ percent: percent(), charging: bool() }),
  internet: bool(),
  bandwidthMbps: num({ min: 0 }),
  taskTypes: names(),
  permissions: arr(PermissionSchema, { max: 8 }),
  sandbox: obj({ network: bool(), memory: bool(), cpu: bool(), filesystem: bool() }),
  cpuUsage: percent(),
  memoryUsage: percent(),
  memoryUsedGb: num({ min: 0 }),
  activeTasks: count(),
  maxConcurrentTasks: count(),
  latencyMs: num({ min: 0 }),
  exclusiveBusy: bool(),
  cluster: obj({ member: bool(), leaderId: nullable(id()), term: count() }),
  apiUrl: str({ max: L.MAX_ADDR_LENGTH }),
  addrs: arr(str({ max: L.MAX_ADDR_LENGTH }), { max: 64 }),
  peers: arr(obj({ id: id(), addrs: arr(str({ max: L.MAX_ADDR_LENGTH }), { max: 4 }) }), { max: 16 }),
  // the device policy's verdict (sched/device-policy.ts): cordoned/draining devices get no new work
  device: obj({ state: oneOf('active', 'cordoned', 'draining'), reason: str({ max: L.MAX_DEVICE_REASON_LENGTH }), drainLeftMs: num({ min: 0, max: L.MAX_DRAIN_LEFT_MS }) }, { optional: ['reason', 'drainLeftMs'] })
}, { optional: ['battery', 'exclusiveBusy', 'cluster', 'apiUrl', 'addrs', 'peers', 'device'] }) as Schema<DeviceBid>

export const BID_MESSAGES = { bid: DeviceBidSchema }

// ---- client protocol (request/response; every request carries reqId) ---------------------------

export const ReqId = count()
export const ErrorBodySchema = obj({ type: name(), message: text(), field: str({ max: L.MAX_NAME_LENGTH }) }, { optional: ['field'] })
export type ErrorBody = Infer<typeof ErrorBodySchema>

/** A failed reply. `notLeader` means: retry at `leaderHint` (peer id) or after an election. */
export interface FailureReply { reqId: number, ok: false, error: ErrorBody, notLeader?: boolean, leaderHint?: string | null }
export type Reply<T> = ({ reqId: number, ok: true } & T) | FailureReply

const FailureSchema = obj({ reqId: ReqId, ok: oneOf(false), error: ErrorBodySchema, notLeader: bool(), leaderHint: nullable(id()) },
  { optional: ['notLeader', 'leaderHint'] })

/** Reply schema: `{ reqId, ok: true, ...fields }` or a FailureReply, picked by `ok`. */
function reply<T> (fields: Record<string, Schema<any>>, optional: string[] = []): Schema<Reply<T>> {
  const success = obj({ reqId: ReqId, ok: oneOf(true), ...fields }, { optional: optional as any[] })
  return {
    kind: 'reply',
    check: v => (typeof v === 'object' && v !== null && (v as { ok?: unknown }).ok === false) ? FailureSchema.check(v) : success.check(v)
  }
}

/** A task record as the leader reports it: the fields clients rely on are checked, the rest passes. */
export const TaskRecordSchema: Schema<TaskRecord> = obj({
  id: id(),
  taskType: name(),
  status: TaskStatusSchema,
  priority: num(),
  task: TaskDataSchema,
  attempts: arr(any(), { max: 100_000 }),
  progress: num(),
  createdAt: timeMs(),
  submittedAt: timeMs()
}) as Schema<TaskRecord>

/** A write's remaining deadline at the forwarding node: the leader waits for the commit no longer. */
const waitMs = () => count()

export const SubmitRequestSchema = obj({
  reqId: ReqId,
  requestId: id(),
  principal: name(),
  tasks: tasks(),
  batch: BatchInfoSchema,
  workflow: WorkflowInfoSchema,
  chunk: BatchChunkSchema,
  waitMs: waitMs()
}, { optional: ['principal', 'batch', 'workflow', 'chunk', 'waitMs'] })

/** A task's live fields: the leader's soft state, never in the log (src/node/client/live-fields.ts). */
export interface LiveFields { taskId: string, attempt: number, progress?: number, resourceUsage?: { cpu: number, memory: number }, pendingReason?: string }
const LiveFieldsSchema: Schema<LiveFields> = obj({
  taskId: id(), attempt: count(), progress: percent(), resourceUsage: ResourceUsageSchema, pendingReason: text()
}, { optional: ['progress', 'resourceUsage', 'pendingReason'], strict: true })

/** What a node forwards to the leader (NodeScheduler → client/service.ts): writes, and the leader's live task fields (client/live-fields.ts).
 *  Other reads are answered from each node's own applied state, so they have no message. */
export const CLIENT_MESSAGES = {
  submit: SubmitRequestSchema,
  submitRes: reply<{ taskIds: string[], duplicate?: boolean }>({ taskIds: arr(id(), { max: L.MAX_BATCH_TASKS }), duplicate: bool() }, ['duplicate']),
  cancel: obj({ reqId: ReqId, taskId: id(), principal: name(), waitMs: waitMs() }, { optional: ['principal', 'waitMs'] }),
  cancelRes: reply<{ task: TaskRecord }>({ task: TaskRecordSchema }),
  /** the leader's soft state for these tasks: live progress (running) and why a task waits (pending) */
  liveTasks: obj({ reqId: ReqId, taskIds: arr(id(), { max: L.MAX_LIVE_TASKS_PER_QUERY }) }),
  /** only the tasks that have live fields; `attempt` is the attempt they belong to */
  liveTasksRes: reply<{ tasks: LiveFields[] }>({ tasks: arr(LiveFieldsSchema, { max: L.MAX_LIVE_TASKS_PER_QUERY }) }),
  setRole: obj({ reqId: ReqId, principal: name(), role: nullable(PrincipalRoleSchema), by: name(), waitMs: waitMs() }, { optional: ['by', 'waitMs'] }),
  setRoleRes: reply<{}>({}),
  /** change cluster settings (admin only; the state machine checks the principal and the ranges) */
  settings: obj({ reqId: ReqId, settings: ClusterSettingsPatchSchema, by: name(), waitMs: waitMs() }, { optional: ['by', 'waitMs'] }),
  /** the settings as the leader applied them */
  settingsRes: reply<{ settings: ClusterSettings }>({ settings: ClusterSettingsPatchSchema as Schema<any> }),
  /** a request that could not be decoded at all (so no '<name>Res' type and maybe no reqId) */
  error: obj({ ok: oneOf(false), error: ErrorBodySchema, reqId: ReqId }, { optional: ['reqId'] })
}

// ---- exec protocol (leader ↔ worker) -----------------------------------------------------------

const itemCount = () => ({ max: L.MAX_ITEMS_PER_COMMAND })

export const EXEC_MESSAGES = {
  /** leader → worker (request): run these attempts (every assignment for one worker in one frame).
   *  leaderTerm lets a worker ignore a deposed leader. */
  assignBatch: obj({ leaderTerm: count(), items: arr(obj({ taskId: id(), attempt: count(), task: TaskDataSchema }), itemCount()) }),
  /** worker → leader: per item, accepted or refused (no capacity, unsupported type, ...) */
  assignBatchRes: obj({
    replies: arr(obj({ taskId: id(), attempt: count(), accepted: bool(), reason: text() }, { optional: ['reason'] }), itemCount())
  }),
  /** worker → leader (request): final outcomes, resent until acknowledged */
  results: obj({ results: arr(AttemptResultSchema, itemCount()) }),
  /** the answer: the `taskId:attempt` keys now committed (notLeader: ask the new leader) */
  resultsAck: obj({ keys: arr(str({ max: 2 * L.MAX_ID_LENGTH }), itemCount()), notLeader: bool() }, { optional: ['notLeader'] }),
  /** worker → leader: the attempt began running */
  started: obj({ taskId: id(), attempt: count(), startedAt: timeMs() }),
  /** worker → leader: progress in percent */
  progress: obj({ taskId: id(), attempt: count(), progress: percent(), resourceUsage: ResourceUsageSchema }, { optional: ['resourceUsage'] }),
  /** leader → worker: stop this attempt (task cancelled or superseded) */
  cancelAttempt: obj({ taskId: id(), attempt: count() }),
  ping: obj({ nonce: count(), at: timeMs() }, { optional: ['at'] }),
  pong: obj({ nonce: count(), at: timeMs() }, { optional: ['at'] })
}

// ---- every message ----------------------------------------------------------------------------

/** All tables merged: decode()'s default. Type names are unique across protocols (checked here). */
export const ALL_MESSAGES = mergeTables(RAFT_MESSAGES, BID_MESSAGES, CLIENT_MESSAGES, EXEC_MESSAGES)

function mergeTables<A extends object, B extends object, C extends object, D extends object> (a: A, b: B, c: C, d: D): A & B & C & D {
  const out: Record<string, unknown> = {}
  for (const t of [a, b, c, d]) {
    for (const [k, v] of Object.entries(t)) {
      if (k in out) throw new Error(`protocol: message type '${k}' is defined twice`) // programmer error
      out[k] = v
    }
  }
  return out as A & B & C & D
}

// ---- convenience types -----------------------------------------------------------------------

export type ClientMessageType = keyof typeof CLIENT_MESSAGES
export type ExecMessageType = keyof typeof EXEC_MESSAGES
export type ClientBody<K extends ClientMessageType> = Infer<(typeof CLIENT_MESSAGES)[K]>
export type ExecBody<K extends ExecMessageType> = Infer<(typeof EXEC_MESSAGES)[K]>
