// Task: the unit of work. parseTaskSpec turns untrusted JSON (camelCase or the seed's snake_case)
// into TaskData or throws InvalidTaskSpecError naming the field; Task is the seed's class around it.

import { InvalidTaskSpecError, SchedError } from './errors.js'
import { MAX_KEY_LENGTH, MAX_TASK_PAYLOAD_BYTES, MAX_TASK_TYPE_LENGTH } from '../protocol/limits.js'
import { isValidTaskId, newTaskId, taskIdTimeMs } from './ids.js'
import {
  copyRequirements, defaultRequirements, describe, parseRequirements, readEnum, readFields, readNumber,
  readString, readStringList, type FieldAliases
} from './requirements.js'
import type { Rng } from './rng.js'
import { copySandboxConfig, parseSandboxConfig } from './sandbox.js'
import { TaskPriority, TaskStatus, type Permission, type SandboxConfigData, type TaskData, type TaskRequirementsData } from './types.js'

export { TaskPriority, TaskStatus }

export const PERMISSIONS: readonly Permission[] = ['read_files', 'write_files', 'network_access', 'system_commands']

/** The task caps, as named in src/protocol/limits.ts (their one definition). */
export const TASK_LIMITS = {
  /** payloads travel in the Raft log and in every snapshot; bulk data belongs in files */
  maxPayloadBytes: MAX_TASK_PAYLOAD_BYTES,
  maxTaskTypeLength: MAX_TASK_TYPE_LENGTH,
  maxKeyLength: MAX_KEY_LENGTH
} as const

const TASK_TYPE_RE = /^[A-Za-z0-9_.:-]+$/

const PRIORITY_NAMES: Record<string, TaskPriority> = {
  urgent: TaskPriority.URGENT, high: TaskPriority.HIGH, normal: TaskPriority.NORMAL,
  low: TaskPriority.LOW, background: TaskPriority.BACKGROUND
}

/** 1..5 or a name (urgent, high, normal, low, background; any case). */
export function parsePriority (v: unknown, path = 'priority'): TaskPriority {
  if (typeof v === 'string') {
    const p = PRIORITY_NAMES[v.trim().toLowerCase()]
    if (p !== undefined) return p
  } else if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 5) {
    return v as TaskPriority
  }
  throw new InvalidTaskSpecError(path, `must be 1..5 or one of urgent, high, normal, low, background, got ${describe(v)}`)
}

/** The upper-case name of a priority (`NORMAL`), as getStatistics reports them. */
export function priorityName (p: number): string {
  return TaskPriority[p] ?? String(p)
}

const TASK_ALIASES: FieldAliases = {
  id: 'id',
  taskType: 'task_type',
  payload: 'payload',
  priority: 'priority',
  requirements: 'requirements',
  batchId: 'batch_id',
  workflowId: 'workflow_id',
  sandboxConfig: 'sandbox_config',
  requiredPermissions: 'required_permissions',
  idempotencyKey: 'idempotency_key',
  retryCount: 'retry_count',
  createdAt: 'created_at',
  replaces: 'replaces'
}

export interface ParseTaskContext {
  /** ms since epoch: id time and createdAt when the spec has none */
  now: number
  rng: Rng
  /** @default TASK_LIMITS.maxPayloadBytes */
  maxPayloadBytes?: number
  /** @default UTF-8 length of JSON.stringify(payload) */
  payloadSize?: (payload: unknown) => number
}

/** UTF-8 byte length without allocating a buffer. */
function utf8Length (s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++ } else n += 3
  }
  return n
}

function jsonSize (payload: unknown): number {
  let s: string | undefined
  try {
    s = JSON.stringify(payload)
  } catch (err) {
    throw new InvalidTaskSpecError('payload', `must be JSON-serialisable (${(err as Error).message})`)
  }
  return s === undefined ? 0 : utf8Length(s)
}

type SpecFields = Omit<TaskData, 'id' | 'createdAt'> & { id?: string, createdAt?: number }

function readKey (v: unknown, p: string): string { return readString(v, p, TASK_LIMITS.maxKeyLength) }

/** Validates everything but id generation. Shared by parseTaskSpec and the Task constructor. */
function readSpec (input: unknown, maxPayloadBytes: number, payloadSize: (p: unknown) => number): SpecFields {
  const f = readFields(input, '', TASK_ALIASES)
  const type = f.get('taskType')
  if (type === undefined) throw new InvalidTaskSpecError('task_type', 'is required')
  const taskType = readString(type[0], type[1], TASK_LIMITS.maxTaskTypeLength)
  if (!TASK_TYPE_RE.test(taskType)) throw new InvalidTaskSpecError(type[1], 'may only contain letters, digits and _ . : -')
  const payload = f.has('payload') ? f.get('payload')![0] : {}
  const size = payloadSize(payload)
  if (size > maxPayloadBytes) {
    throw new InvalidTaskSpecError(f.get('payload')?.[1] ?? 'payload', `is ${size} bytes, over the ${maxPayloadBytes}-byte cap`)
  }
  const out: SpecFields = {
    taskType,
    payload,
    priority: f.has('priority') ? parsePriority(...f.get('priority')!) : TaskPriority.NORMAL,
    requirements: f.has('requirements') ? parseRequirements(...f.get('requirements')!) : defaultRequirements(),
    requiredPermissions: f.has('requiredPermissions')
      ? readStringList(...f.get('requiredPermissions')!, PERMISSIONS.length * 2, (s, p) => readEnum(s, p, PERMISSIONS))
      : [],
    retryCount: f.has('retryCount') ? readNumber(...f.get('retryCount')!, { min: 0, max: 1000, integer: true }) : 0
  }
  const id = f.get('id')
  if (id !== undefined) {
    if (!isValidTaskId(id[0])) throw new InvalidTaskSpecError(id[1], `must be a 26-character task id, got ${describe(id[0])}`)
    out.id = id[0]
  }
  if (f.has('createdAt')) out.createdAt = readNumber(...f.get('createdAt')!, { min: 0, integer: true })
  if (f.has('batchId')) out.batchId = readKey(...f.get('batchId')!)
  if (f.has('workflowId')) out.workflowId = readKey(...f.get('workflowId')!)
  if (f.has('idempotencyKey')) out.idempotencyKey = readKey(...f.get('idempotencyKey')!)
  if (f.has('replaces')) {
    const [v, p] = f.get('replaces')!
    if (!isValidTaskId(v)) throw new InvalidTaskSpecError(p, `must be a 26-character task id, got ${describe(v)}`)
    out.replaces = v
  }
  if (f.has('sandboxConfig')) out.sandboxConfig = parseSandboxConfig(...f.get('sandboxConfig')!)
  return out
}

/**
 * Parses an untrusted task spec. Without an `id` one is made from ctx.now and ctx.rng; without
 * `createdAt` it is ctx.now. Throws InvalidTaskSpecError (type 'invalid_payload') naming the field.
 */
export function parseTaskSpec (input: unknown, ctx: ParseTaskContext): TaskData {
  const s = readSpec(input, ctx.maxPayloadBytes ?? TASK_LIMITS.maxPayloadBytes, ctx.payloadSize ?? jsonSize)
  const id = s.id ?? newTaskId(ctx.now, ctx.rng)
  return { id, ...s, createdAt: s.createdAt ?? Math.floor(ctx.now) }
}

/** A deep-enough copy of TaskData (payload is shared: it is treated as immutable). */
export function copyTaskData (d: TaskData): TaskData {
  const out: TaskData = { ...d, requirements: copyRequirements(d.requirements), requiredPermissions: [...d.requiredPermissions] }
  if (d.sandboxConfig !== undefined) out.sandboxConfig = copySandboxConfig(d.sandboxConfig)
  if (d.failedOn !== undefined) out.failedOn = [...d.failedOn]
  return out
}

/** What `new Task(...)` accepts: TaskData-like fields in camelCase or snake_case. */
export type TaskInit = Partial<Omit<TaskData, 'requirements' | 'sandboxConfig'>> & {
  requirements?: Partial<TaskRequirementsData> | Record<string, unknown>
  sandboxConfig?: Partial<SandboxConfigData> | Record<string, unknown>
} & Record<string, unknown>

/**
 * The id source before anything installs one. src/sched has no clock, so it cannot make ids; the
 * package entry (src/index.ts, via src/node/task-ids.ts) installs a real one at import time, so
 * only code that imports src/sched directly (tests, the simulator) meets this.
 */
export function unsetIdGenerator (): string {
  throw new SchedError('Task.idGenerator is not set: importing retire-cluster installs one; in tests use Task.idGenerator = monotonicTaskIds(clock, rng)')
}

/**
 * The seed's Task class: `new Task({ task_type: 'echo', payload: { message: 'hi' }, priority: TaskPriority.HIGH })`.
 * Ids come from the static `Task.idGenerator` (src/sched has no clock; the package installs a real
 * one at import); createdAt is the id's time.
 */
export class Task implements TaskData {
  /**
   * Makes ids for `new Task(...)`. Importing the package installs monotonicTaskIds(Date.now,
   * crypto) (src/node/task-ids.ts); tests and the simulator assign their own (seeded) one.
   */
  static idGenerator: () => string = unsetIdGenerator

  declare id: string
  declare taskType: string
  declare payload: unknown
  declare priority: TaskPriority
  declare requirements: TaskRequirementsData
  declare batchId?: string
  declare workflowId?: string
  declare sandboxConfig?: SandboxConfigData
  declare requiredPermissions: Permission[]
  declare retryCount: number
  declare createdAt: number
  declare replaces?: string
  declare idempotencyKey?: string

  constructor (init: TaskInit) {
    const s = readSpec(init, TASK_LIMITS.maxPayloadBytes, jsonSize)
    const id = s.id ?? Task.idGenerator()
    if (!isValidTaskId(id)) throw new SchedError(`Task.idGenerator returned an invalid id ${JSON.stringify(id)}`)
    Object.assign(this, s, { id, createdAt: s.createdAt ?? taskIdTimeMs(id) })
  }

  /** Wraps trusted data (from the replicated state) without re-validating it. */
  static fromData (d: TaskData): Task {
    const t = Object.create(Task.prototype) as Task
    Object.assign(t, copyTaskData(d))
    return t
  }

  toData (): TaskData {
    const d: TaskData = {
      id: this.id,
      taskType: this.taskType,
      payload: this.payload,
      priority: this.priority,
      requirements: this.requirements,
      requiredPermissions: this.requiredPermissions,
      retryCount: this.retryCount,
      createdAt: this.createdAt
    }
    if (this.batchId !== undefined) d.batchId = this.batchId
    if (this.workflowId !== undefined) d.workflowId = this.workflowId
    if (this.sandboxConfig !== undefined) d.sandboxConfig = this.sandboxConfig
    if (this.replaces !== undefined) d.replaces = this.replaces
    if (this.idempotencyKey !== undefined) d.idempotencyKey = this.idempotencyKey
    return copyTaskData(d)
  }

  /** A copy with a new id and `replaces` pointing at this task (retry count kept; no idempotency key). */
  clone (ctx: { now: number, rng: Rng }): Task {
    return Task.fromData(cloneTaskData(this.toData(), ctx))
  }
}

/** TaskData clone: new id and createdAt, `replaces` = the original, idempotency key dropped (it names the original). */
export function cloneTaskData (d: TaskData, ctx: { now: number, rng: Rng }): TaskData {
  const c = copyTaskData(d)
  c.id = newTaskId(ctx.now, ctx.rng)
  c.createdAt = Math.floor(ctx.now)
  c.replaces = d.id
  delete c.idempotencyKey
  return c
}
