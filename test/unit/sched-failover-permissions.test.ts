import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { PermissionDeniedError } from '../../src/sched/errors.js'
import { failoverClone } from '../../src/sched/failover.js'
import { isValidTaskId } from '../../src/sched/ids.js'
import { assertAllowed, canCancel, canManageRoles, canSubmit, hasPermission, isRole, ROLES } from '../../src/sched/permissions.js'
import { mulberry32 } from '../../src/sched/rng.js'
import { parseTaskSpec } from '../../src/sched/task.js'
import * as sched from '../../src/sched/index.js'

describe('sched failoverClone', () => {
  const orig = parseTaskSpec({
    task_type: 'echo', payload: { m: 1 }, retry_count: 2, idempotency_key: 'k', batch_id: 'b',
    requirements: { exclude_devices: ['devA'], min_cpu_cores: 2 }
  }, { now: 1_000, rng: mulberry32(1) })

  it('new id, linked to the original, failed device excluded, retry count kept', () => {
    const c = failoverClone(orig, 'devB', { now: 2_000, rng: mulberry32(2) })
    assert.ok(isValidTaskId(c.id))
    assert.notEqual(c.id, orig.id)
    assert.equal(c.replaces, orig.id)
    assert.deepEqual(c.requirements.excludeDevices, ['devA', 'devB'])
    assert.equal(c.retryCount, 2)
    assert.equal(c.createdAt, 2_000)
    assert.equal(c.batchId, 'b')
    assert.equal(c.requirements.minCpuCores, 2)
    assert.equal(c.idempotencyKey, undefined)
    assert.deepEqual(orig.requirements.excludeDevices, ['devA'], 'the original is untouched')
  })

  it('does not duplicate an already excluded device, and chains', () => {
    const c1 = failoverClone(orig, 'devA', { now: 2_000, rng: mulberry32(2) })
    assert.deepEqual(c1.requirements.excludeDevices, ['devA'])
    const c2 = failoverClone(c1, 'devC', { now: 3_000, rng: mulberry32(3) })
    assert.equal(c2.replaces, c1.id)
    assert.deepEqual(c2.requirements.excludeDevices, ['devA', 'devC'])
  })

  it('is deterministic for the same ctx (replicated state machines agree)', () => {
    assert.deepEqual(failoverClone(orig, 'x', { now: 5, rng: mulberry32(9) }), failoverClone(orig, 'x', { now: 5, rng: mulberry32(9) }))
  })
})

describe('sched permissions', () => {
  const echo = { taskType: 'echo', requiredPermissions: [] }
  const files = { taskType: 'file_operation', requiredPermissions: ['read_files' as const] }
  const cmd = { taskType: 'command', requiredPermissions: [] }
  const sys = { taskType: 'custom', requiredPermissions: ['system_commands' as const] }

  it('role table', () => {
    assert.deepEqual(ROLES, ['admin', 'operator', 'submitter', 'viewer'])
    assert.ok(isRole('viewer') && !isRole('root') && !isRole(null))
    assert.equal(hasPermission('admin', 'manage_roles'), true)
    assert.equal(hasPermission('operator', 'manage_roles'), false)
    assert.equal(hasPermission('operator', 'system_commands'), true)
    assert.equal(hasPermission('submitter', 'system_commands'), false)
    assert.equal(hasPermission('viewer', 'read'), true)
    assert.equal(hasPermission(null, 'read'), false)
  })

  it('canSubmit: viewers and role-less principals cannot; system_commands needs operator or admin', () => {
    for (const role of ['admin', 'operator', 'submitter'] as const) {
      assert.deepEqual(canSubmit(role, echo), { ok: true })
      assert.deepEqual(canSubmit(role, files), { ok: true })
    }
    for (const t of [cmd, sys]) {
      assert.equal(canSubmit('admin', t).ok, true)
      assert.equal(canSubmit('operator', t).ok, true)
      const d = canSubmit('submitter', t)
      assert.ok(!d.ok && /system_commands/.test(d.reason), JSON.stringify(d))
    }
    const v = canSubmit('viewer', echo)
    assert.ok(!v.ok && /viewer may not submit/.test(v.reason))
    assert.equal(canSubmit(undefined, echo).ok, false)
  })

  it('canCancel and canManageRoles', () => {
    assert.equal(canCancel('submitter', true).ok, true)
    assert.equal(canCancel('submitter', false).ok, false)
    assert.equal(canCancel('operator', false).ok, true)
    assert.equal(canCancel('viewer', true).ok, false)
    assert.equal(canManageRoles('admin').ok, true)
    assert.equal(canManageRoles('operator').ok, false)
    assert.throws(() => assertAllowed(canManageRoles('viewer')), PermissionDeniedError)
    assert.doesNotThrow(() => assertAllowed(canManageRoles('admin')))
  })
})

describe('sched index', () => {
  it('re-exports the public names', () => {
    for (const name of ['Task', 'TaskRequirements', 'SandboxConfig', 'TaskPriority', 'TaskStatus', 'TaskQueue', 'RetryPolicy',
      'parseTaskSpec', 'matchRequirements', 'isValidBid', 'scoreDevice', 'rankDevices', 'failoverClone', 'canSubmit',
      'canTransition', 'assertTransition', 'newTaskId', 'mulberry32', 'hashSeed', 'QueueFullError', 'InvalidTaskSpecError',
      'IllegalTransitionError', 'PermissionDeniedError', 'SchedError', 'DEFAULT_RETRY_POLICY', 'TaskErrorType', 'TaskPermissions']) {
      assert.ok((sched as Record<string, unknown>)[name] !== undefined, name)
    }
  })
})
