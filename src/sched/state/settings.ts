// 'setRole' and 'settings': who may do what, and the replicated cluster settings (retention, queue
// capacity, rate limits). Both are admin-only; a refused one changes nothing.

import type { ClusterSettings, Command, Role } from '../commands.js'
import { MAX_QUEUE_SIZE_SETTING, MAX_RATE_LIMIT_RULES, MAX_RESULT_TTL_SECONDS, MAX_RETAINED_TASKS_SETTING } from '../../protocol/limits.js'
import { DEFAULT_MAX_RETAINED_TASKS, DEFAULT_RETENTION_MS } from '../retention.js'
import { canManageRoles, isRole } from '../permissions.js'
import { DEFAULT_RELIABILITY } from '../reliability.js'
import { DEFAULT_PREEMPTION } from '../preemption.js'
import { ADMIN_PREFIX, DEFAULT_MAX_QUEUE_SIZE, LOCAL_ADMIN, errorReply, type Reply, type State } from './state.js'

/**
 * A principal's role: an explicit setRole wins; otherwise 'local-admin' (the node's own API token)
 * and principals named 'admin:<...>' are admins, everyone else is a submitter.
 */
export function roleOf (s: State, principal: string): Role {
  const r = s.roles.get(principal)
  if (r !== undefined) return r
  if (principal === LOCAL_ADMIN || (typeof principal === 'string' && principal.startsWith(ADMIN_PREFIX))) return 'admin'
  return 'submitter'
}

export function retentionMsOf (s: State): number { return s.settings.retentionMs ?? DEFAULT_RETENTION_MS }

/** Terminal records kept at most (the oldest beyond it are evicted before their retention ends). */
export function maxRetainedTasksOf (s: State): number { return s.settings.maxRetainedTasks ?? DEFAULT_MAX_RETAINED_TASKS }

export function maxQueueSizeOf (s: State): number { return s.settings.maxQueueSize ?? s.opts.maxQueueSize ?? DEFAULT_MAX_QUEUE_SIZE }

export function applySetRole (s: State, cmd: Extract<Command, { type: 'setRole' }>): Reply {
  const verdict = canManageRoles(roleOf(s, cmd.by))
  if (!verdict.ok) return errorReply('permission_denied', `principal '${cmd.by}': ${verdict.reason}`)
  if (typeof cmd.principal !== 'string' || cmd.principal === '') return errorReply('invalid_payload', 'setRole.principal must be a non-empty string', 'principal')
  if (cmd.role !== null && !isRole(cmd.role)) return errorReply('invalid_payload', 'role must be one of admin, operator, submitter, viewer, or null', 'role')
  if (cmd.role === null) s.roles.delete(cmd.principal)
  else s.roles.set(cmd.principal, cmd.role)
  return { ok: true, taskIds: [], duplicate: false }
}

export function applySettings (s: State, cmd: Extract<Command, { type: 'settings' }>): Reply {
  const verdict = canManageRoles(roleOf(s, cmd.by))
  if (!verdict.ok) return errorReply('permission_denied', `principal '${cmd.by}': ${verdict.reason}`)
  const p = cmd.settings
  if (p == null || typeof p !== 'object') return errorReply('invalid_payload', 'settings must be an object', 'settings')
  const next: ClusterSettings = { ...s.settings }
  if (p.retentionMs !== undefined) {
    if (p.retentionMs === null) delete next.retentionMs
    else if (!Number.isInteger(p.retentionMs) || p.retentionMs < 0 || p.retentionMs > MAX_RESULT_TTL_SECONDS * 1000) return errorReply('invalid_payload', `retentionMs must be an integer 0..${MAX_RESULT_TTL_SECONDS * 1000}`, 'settings.retentionMs')
    else next.retentionMs = p.retentionMs
  }
  if (p.maxQueueSize !== undefined) {
    if (p.maxQueueSize === null) delete next.maxQueueSize
    else if (!Number.isInteger(p.maxQueueSize) || p.maxQueueSize < 1 || p.maxQueueSize > MAX_QUEUE_SIZE_SETTING) return errorReply('invalid_payload', `maxQueueSize must be an integer 1..${MAX_QUEUE_SIZE_SETTING}`, 'settings.maxQueueSize')
    else next.maxQueueSize = p.maxQueueSize
  }
  if (p.maxRetainedTasks !== undefined) {
    if (p.maxRetainedTasks === null) delete next.maxRetainedTasks
    else if (!Number.isInteger(p.maxRetainedTasks) || p.maxRetainedTasks < 0 || p.maxRetainedTasks > MAX_RETAINED_TASKS_SETTING) return errorReply('invalid_payload', `maxRetainedTasks must be an integer 0..${MAX_RETAINED_TASKS_SETTING}`, 'settings.maxRetainedTasks')
    else next.maxRetainedTasks = p.maxRetainedTasks
  }
  if (p.rateLimits !== undefined) {
    if (p.rateLimits === null || (Array.isArray(p.rateLimits) && p.rateLimits.length === 0)) delete next.rateLimits
    else if (!Array.isArray(p.rateLimits) || p.rateLimits.length > MAX_RATE_LIMIT_RULES) return errorReply('invalid_payload', `rateLimits must be a list of at most ${MAX_RATE_LIMIT_RULES} rules`, 'settings.rateLimits')
    else next.rateLimits = p.rateLimits.map(r => ({ ...r }))
  }
  for (const [field, defaults] of [['reliability', DEFAULT_RELIABILITY], ['preemption', DEFAULT_PREEMPTION]] as const) {
    const v = p[field]
    if (v === undefined) continue
    if (v === null) { delete next[field]; continue }
    const bad = tuningProblem(v, defaults)
    if (bad !== undefined) return errorReply('invalid_payload', `${field}.${bad}`, `settings.${field}`)
    ;(next as Record<string, unknown>)[field] = { ...v }
  }
  s.settings = next
  return { ok: true, taskIds: [], duplicate: false }
}

/**
 * Why a reliability/preemption override is invalid, or undefined: only the defaults' own keys, each
 * of the default's type; numbers finite and >= 0, shares (weight, fractions) at most 1.
 */
function tuningProblem (v: unknown, defaults: object): string | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'must be an object'
  for (const [k, x] of Object.entries(v)) {
    if (!Object.hasOwn(defaults, k)) return `${k} is not a setting (known: ${Object.keys(defaults).join(', ')})`
    const want = typeof (defaults as Record<string, unknown>)[k]
    if (typeof x !== want) return `${k} must be a ${want}`
    if (want === 'number' && (!Number.isFinite(x) || (x as number) < 0)) return `${k} must be a finite number >= 0`
    if ((k === 'weight' || k.endsWith('Fraction')) && (x as number) > 1) return `${k} must be at most 1`
  }
  return undefined
}

/** The replicated cluster settings (a copy). */
export function clusterSettings (s: State): ClusterSettings {
  const out: ClusterSettings = { ...s.settings }
  if (s.settings.rateLimits !== undefined) out.rateLimits = s.settings.rateLimits.map(r => ({ ...r }))
  if (s.settings.reliability !== undefined) out.reliability = { ...s.settings.reliability }
  if (s.settings.preemption !== undefined) out.preemption = { ...s.settings.preemption }
  return out
}
