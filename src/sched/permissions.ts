// Who may do what. Principals (peer ids, API tokens) have a Role in the replicated state; a role is a
// set of RolePermissions. A task's requiredPermissions are what it asks of a *device*; a submitter
// also needs `system_commands` to submit such a task (or a `command` task), so a viewer or plain
// submitter cannot run shell commands on other people's devices.

import type { Role } from './commands.js'
import { PermissionDeniedError } from './errors.js'
import type { TaskData } from './types.js'

export type { Role }

export type RolePermission =
  | 'read'            // list and inspect tasks, nodes, metrics
  | 'submit'          // submit tasks, batches, workflows
  | 'cancel_own'      // cancel tasks one submitted
  | 'cancel_any'      // cancel anyone's tasks
  | 'system_commands' // submit tasks that run commands on devices
  | 'manage_roles'    // grant and revoke roles

export const ROLES: readonly Role[] = ['admin', 'operator', 'submitter', 'viewer']

export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<RolePermission>>> = {
  admin: new Set<RolePermission>(['read', 'submit', 'cancel_own', 'cancel_any', 'system_commands', 'manage_roles']),
  operator: new Set<RolePermission>(['read', 'submit', 'cancel_own', 'cancel_any', 'system_commands']),
  submitter: new Set<RolePermission>(['read', 'submit', 'cancel_own']),
  viewer: new Set<RolePermission>(['read'])
}

export function isRole (x: unknown): x is Role {
  return typeof x === 'string' && (ROLES as readonly string[]).includes(x)
}

/** A principal with no role (null/undefined) has no permissions. */
export function hasPermission (role: Role | null | undefined, perm: RolePermission): boolean {
  return role != null && ROLE_PERMISSIONS[role] !== undefined && ROLE_PERMISSIONS[role].has(perm)
}

export type Decision = { ok: true } | { ok: false, reason: string }
const ALLOW: Decision = Object.freeze({ ok: true })

/** Task types that run arbitrary commands, whatever their requiredPermissions say. */
export const COMMAND_TASK_TYPES: ReadonlySet<string> = new Set(['command'])

export function needsSystemCommands (task: Pick<TaskData, 'taskType' | 'requiredPermissions'>): boolean {
  return COMMAND_TASK_TYPES.has(task.taskType) || task.requiredPermissions.includes('system_commands')
}

export function canSubmit (role: Role | null | undefined, task: Pick<TaskData, 'taskType' | 'requiredPermissions'>): Decision {
  if (!hasPermission(role, 'submit')) return { ok: false, reason: `role ${role ?? '(none)'} may not submit tasks` }
  if (needsSystemCommands(task) && !hasPermission(role, 'system_commands')) {
    return { ok: false, reason: `role ${role ?? '(none)'} may not submit tasks that need system_commands (task type ${task.taskType})` }
  }
  return ALLOW
}

export function canCancel (role: Role | null | undefined, isOwner: boolean): Decision {
  if (hasPermission(role, 'cancel_any') || (isOwner && hasPermission(role, 'cancel_own'))) return ALLOW
  return { ok: false, reason: `role ${role ?? '(none)'} may not cancel ${isOwner ? 'tasks' : "other principals' tasks"}` }
}

export function canManageRoles (role: Role | null | undefined): Decision {
  return hasPermission(role, 'manage_roles') ? ALLOW : { ok: false, reason: `role ${role ?? '(none)'} may not change roles` }
}

/** Throws PermissionDeniedError for a denied decision. */
export function assertAllowed (d: Decision): void {
  if (!d.ok) throw new PermissionDeniedError(d.reason)
}
