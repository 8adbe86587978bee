import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'mocha'
import { InvalidTaskSpecError, SchedError } from '../../src/sched/errors.js'
import { isValidTaskId, monotonicTaskIds, newTaskId, taskIdTimeMs } from '../../src/sched/ids.js'
import { defaultRequirements, parseRequirements, TaskRequirements } from '../../src/sched/requirements.js'
import { mulberry32 } from '../../src/sched/rng.js'
import { defaultSandboxConfig, parseByteSize, parseSandboxConfig, SandboxConfig } from '../../src/sched/sandbox.js'
import { parsePriority, parseTaskSpec, priorityName, Task, TaskPriority, TaskStatus, unsetIdGenerator } from '../../src/sched/task.js'

const NOW = 1_700_000_000_000
const ctx = (): { now: number, rng: () => number } => ({ now: NOW, rng: mulberry32(9) })

/** Asserts fn throws InvalidTaskSpecError for exactly `field`, and returns it. */
function rejects (fn: () => unknown, field: string): InvalidTaskSpecError {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof InvalidTaskSpecError, `expected InvalidTaskSpecError, got ${String(err)}`)
    assert.equal(err.field, field, err.message)
    assert.equal(err.type, 'invalid_payload')
    assert.ok(err.message.startsWith(field + ':'), err.message)
    return err
  }
  assert.fail(`expected a rejection naming ${field}`)
}

describe('sched requirements', () => {
  it('defaults', () => {
    assert.deepEqual(parseRequirements({}), defaultRequirements())
    // no own keys holding undefined (they would travel in msgpack and break deepEqual elsewhere)
    assert.deepEqual(Object.keys(new TaskRequirements()).sort(), Object.keys(defaultRequirements()).sort())
    assert.deepEqual(defaultRequirements(), {
      minCpuCores: 1, minMemoryGb: 0, minStorageGb: 0, timeoutSeconds: 300, maxRetries: 3, requiresInternet: false,
      bandwidthMbps: 0, requiresGpu: false, requiresSensors: [], exclusive: false, excludeDevices: []
    })
  })

  it('parses every seed field in snake_case and the same in camelCase', () => {
    const snake = {
      min_cpu_cores: 2, min_memory_gb: 4, min_storage_gb: 10, required_platform: 'linux', required_arch: 'x86_64',
      required_role: 'compute', max_cpu_usage: 80, max_memory_usage: 70, timeout_seconds: 60, max_retries: 5,
      requires_internet: true, bandwidth_mbps: 10, requires_gpu: true, requires_sensors: ['gps', 'camera', 'gps'],
      exclusive: true, exclude_devices: ['peerA']
    }
    const want = {
      minCpuCores: 2, minMemoryGb: 4, minStorageGb: 10, requiredPlatform: 'linux', requiredArch: 'x86_64',
      requiredRole: 'compute', maxCpuUsage: 80, maxMemoryUsage: 70, timeoutSeconds: 60, maxRetries: 5,
      requiresInternet: true, bandwidthMbps: 10, requiresGpu: true, requiresSensors: ['gps', 'camera'],
      exclusive: true, excludeDevices: ['peerA']
    }
    assert.deepEqual(parseRequirements(snake), want)
    assert.deepEqual(parseRequirements(want), want)
    assert.deepEqual(new TaskRequirements(snake).toData(), want)
    assert.deepEqual({ ...new TaskRequirements(want) }, { ...want })
  })

  it('null means "not given"', () => {
    assert.deepEqual(parseRequirements({ required_platform: null, min_cpu_cores: null }), defaultRequirements())
  })

  const bad: Array<[Record<string, unknown>, string]> = [
    [{ min_cpu_cores: -1 }, 'requirements.min_cpu_cores'],
    [{ minCpuCores: '4' }, 'requirements.minCpuCores'],
    [{ min_memory_gb: Number.NaN }, 'requirements.min_memory_gb'],
    [{ min_storage_gb: Infinity }, 'requirements.min_storage_gb'],
    [{ required_platform: 'beos' }, 'requirements.required_platform'],
    [{ required_role: 'toaster' }, 'requirements.required_role'],
    [{ required_arch: '' }, 'requirements.required_arch'],
    [{ max_cpu_usage: 101 }, 'requirements.max_cpu_usage'],
    [{ max_memory_usage: -5 }, 'requirements.max_memory_usage'],
    [{ timeout_seconds: 0 }, 'requirements.timeout_seconds'],
    [{ max_retries: 1.5 }, 'requirements.max_retries'],
    [{ requires_internet: 'yes' }, 'requirements.requires_internet'],
    [{ bandwidth_mbps: -1 }, 'requirements.bandwidth_mbps'],
    [{ requires_gpu: 1 }, 'requirements.requires_gpu'],
    [{ requires_sensors: 'gps' }, 'requirements.requires_sensors'],
    [{ requires_sensors: ['gps', 3] }, 'requirements.requires_sensors[1]'],
    [{ exclusive: 'no' }, 'requirements.exclusive'],
    [{ exclude_devices: Array.from({ length: 2000 }, (_, i) => `d${i}`) }, 'requirements.exclude_devices'],
    [{ min_gpu_ram: 4 }, 'requirements.min_gpu_ram'],
    [{ min_cpu_cores: 2, minCpuCores: 2 }, 'requirements.minCpuCores']
  ]
  for (const [input, field] of bad) {
    it(`rejects ${JSON.stringify(input).slice(0, 60)} naming ${field}`, () => {
      rejects(() => parseRequirements(input), field)
    })
  }

  it('rejects a non-object', () => {
    rejects(() => parseRequirements([]), 'requirements')
    rejects(() => parseRequirements('fast'), 'requirements')
    rejects(() => new TaskRequirements({ min_cpu_cores: -2 }), 'requirements.min_cpu_cores')
  })
})

describe('sched sandbox config', () => {
  it('parses the seed example', () => {
    const s = parseSandboxConfig({
      allow_network: false, allow_filesystem: true, allowed_paths: ['/tmp', '/data'], max_file_size: '100MB',
      max_execution_time: 300, memory_limit: '2GB', cpu_limit: 80
    })
    assert.deepEqual(s, {
      allowNetwork: false, allowFilesystem: true, allowedPaths: ['/tmp', '/data'], maxFileSizeBytes: 100 * 2 ** 20,
      maxExecutionTimeSeconds: 300, memoryLimitBytes: 2 * 2 ** 30, cpuLimitPercent: 80
    })
    assert.deepEqual(new SandboxConfig({ memoryLimit: '2GB', cpuLimitPercent: 80, allowNetwork: true }).toData(),
      { ...defaultSandboxConfig(), memoryLimitBytes: 2 * 2 ** 30, cpuLimitPercent: 80, allowNetwork: true })
    assert.deepEqual(parseSandboxConfig(s), s) // its own output parses back
  })

  it('byte sizes', () => {
    assert.equal(parseByteSize('100MB', 'x'), 100 * 1024 * 1024)
    assert.equal(parseByteSize('2 gb', 'x'), 2 * 1024 ** 3)
    assert.equal(parseByteSize('1.5GiB', 'x'), 1.5 * 1024 ** 3)
    assert.equal(parseByteSize('512k', 'x'), 512 * 1024)
    assert.equal(parseByteSize('10', 'x'), 10)
    assert.equal(parseByteSize(4096, 'x'), 4096)
    for (const bad of ['lots', '10XB', '-1MB', '', '2TB2', true, [], -5]) {
      assert.throws(() => parseByteSize(bad, 'sandbox_config.memory_limit'), (e: unknown) => e instanceof InvalidTaskSpecError && e.field === 'sandbox_config.memory_limit')
    }
    assert.throws(() => parseByteSize('2000TB', 'f'), InvalidTaskSpecError)
  })

  it('rejects bad fields by name', () => {
    rejects(() => parseSandboxConfig({ memory_limit: 'huge' }), 'sandbox_config.memory_limit')
    rejects(() => parseSandboxConfig({ cpu_limit: 0 }), 'sandbox_config.cpu_limit')
    rejects(() => parseSandboxConfig({ cpu_limit: 150 }), 'sandbox_config.cpu_limit')
    rejects(() => parseSandboxConfig({ allow_network: 'no' }), 'sandbox_config.allow_network')
    rejects(() => parseSandboxConfig({ allowed_paths: '/tmp' }), 'sandbox_config.allowed_paths')
    rejects(() => parseSandboxConfig({ chroot: true }), 'sandbox_config.chroot')
    rejects(() => parseSandboxConfig({ memory_limit: '1GB', memory_limit_bytes: 5 }), 'sandbox_config.memory_limit')
  })
})

describe('sched task spec', () => {
  it('parses a minimal spec with defaults and a fresh id', () => {
    const t = parseTaskSpec({ task_type: 'echo' }, ctx())
    assert.ok(isValidTaskId(t.id))
    assert.equal(taskIdTimeMs(t.id), NOW)
    assert.equal(t.createdAt, NOW)
    assert.equal(t.taskType, 'echo')
    assert.deepEqual(t.payload, {})
    assert.equal(t.priority, TaskPriority.NORMAL)
    assert.deepEqual(t.requirements, defaultRequirements())
    assert.deepEqual(t.requiredPermissions, [])
    assert.equal(t.retryCount, 0)
    assert.equal(t.sandboxConfig, undefined)
  })

  it('snake_case and camelCase give the same task', () => {
    const id = newTaskId(NOW - 5, mulberry32(1))
    const snake = parseTaskSpec({
      id, task_type: 'python_eval', payload: { expression: '1+1' }, priority: 'URGENT', requirements: { min_cpu_cores: 4 },
      batch_id: 'b1', sandbox_config: { memory_limit: '1GB' }, required_permissions: ['read_files', 'read_files'],
      idempotency_key: 'k1'
    }, ctx())
    const camel = parseTaskSpec({
      id, taskType: 'python_eval', payload: { expression: '1+1' }, priority: 1, requirements: { minCpuCores: 4 },
      batchId: 'b1', sandboxConfig: { memoryLimitBytes: 2 ** 30 }, requiredPermissions: ['read_files'],
      idempotencyKey: 'k1'
    }, ctx())
    assert.deepEqual(snake, camel)
    assert.equal(snake.id, id)
    assert.deepEqual(snake.requiredPermissions, ['read_files'])
  })

  it('TaskData round-trips through parseTaskSpec', () => {
    const t = parseTaskSpec({ task_type: 'echo', payload: [1, 'x'], workflow_id: 'w', retry_count: 2 }, ctx())
    assert.deepEqual(parseTaskSpec(JSON.parse(JSON.stringify(t)), { now: 0, rng: mulberry32(0) }), t)
  })

  it('priority names are case-insensitive', () => {
    assert.equal(parsePriority('urgent'), 1)
    assert.equal(parsePriority('High'), 2)
    assert.equal(parsePriority(' normal '), 3)
    assert.equal(parsePriority('LOW'), 4)
    assert.equal(parsePriority('Background'), 5)
    assert.equal(parsePriority(5), 5)
    assert.equal(priorityName(TaskPriority.BACKGROUND), 'BACKGROUND')
    for (const bad of [0, 6, 2.5, '3', 'critical', null, true]) rejects(() => parsePriority(bad), 'priority')
  })

  const bad: Array<[Record<string, unknown>, string]> = [
    [{}, 'task_type'],
    [{ task_type: '' }, 'task_type'],
    [{ taskType: 7 }, 'taskType'],
    [{ task_type: 'rm -rf' }, 'task_type'],
    [{ task_type: 'echo', priority: 9 }, 'priority'],
    [{ task_type: 'echo', requirements: { required_platform: 'solaris' } }, 'requirements.required_platform'],
    [{ task_type: 'echo', requirements: { min_cpu_cores: -4 } }, 'requirements.min_cpu_cores'],
    [{ task_type: 'echo', requirements: 'big' }, 'requirements'],
    [{ task_type: 'echo', required_permissions: ['root'] }, 'required_permissions[0]'],
    [{ task_type: 'echo', required_permissions: 'read_files' }, 'required_permissions'],
    [{ task_type: 'echo', sandbox_config: { cpu_limit: -1 } }, 'sandbox_config.cpu_limit'],
    [{ task_type: 'echo', batch_id: 5 }, 'batch_id'],
    [{ task_type: 'echo', idempotency_key: '' }, 'idempotency_key'],
    [{ task_type: 'echo', id: 'not-an-id' }, 'id'],
    [{ task_type: 'echo', replaces: 'nope' }, 'replaces'],
    [{ task_type: 'echo', retry_count: -1 }, 'retry_count'],
    [{ task_type: 'echo', createdAt: 'yesterday' }, 'createdAt'],
    [{ task_type: 'echo', colour: 'blue' }, 'colour'],
    [{ task_type: 'echo', taskType: 'echo' }, 'taskType']
  ]
  for (const [input, field] of bad) {
    it(`rejects ${JSON.stringify(input).slice(0, 70)} naming ${field}`, () => {
      rejects(() => parseTaskSpec(input, ctx()), field)
    })
  }

  it('rejects a payload over the cap (default 1 MiB, counted in UTF-8 bytes)', () => {
    const big = 'x'.repeat(1024 * 1024)
    const e = rejects(() => parseTaskSpec({ task_type: 'echo', payload: { big } }, ctx()), 'payload')
    assert.match(e.message, /over the 1048576-byte cap/)
    // 1 MiB / 3 three-byte chars fit in chars but not in bytes
    rejects(() => parseTaskSpec({ task_type: 'echo', payload: '€'.repeat(400_000) }, ctx()), 'payload')
    assert.ok(parseTaskSpec({ task_type: 'echo', payload: 'x'.repeat(1000) }, { ...ctx(), maxPayloadBytes: 1100 }))
    rejects(() => parseTaskSpec({ task_type: 'echo', payload: 'x'.repeat(1000) }, { ...ctx(), maxPayloadBytes: 999 }), 'payload')
    rejects(() => parseTaskSpec({ task_type: 'echo', payload: 1 }, { ...ctx(), payloadSize: () => 2e6 }), 'payload')
  })

  it('rejects a payload that is not JSON-serialisable', () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    rejects(() => parseTaskSpec({ task_type: 'echo', payload: circular }, ctx()), 'payload')
    rejects(() => parseTaskSpec({ task_type: 'echo', payload: { n: 1n } }, ctx()), 'payload')
  })

  it('rejects non-objects', () => {
    for (const bad of [null, 'echo', 42, []]) assert.throws(() => parseTaskSpec(bad, ctx()), InvalidTaskSpecError)
  })
})

describe('sched Task class', () => {
  const saved = Task.idGenerator
  afterEach(() => { Task.idGenerator = saved })

  it('refuses to make ids until a generator is set', () => {
    // importing the package (any other test file may have) installs one: start from none
    Task.idGenerator = unsetIdGenerator
    assert.throws(() => new Task({ taskType: 'echo' }), (e: unknown) => e instanceof SchedError && /idGenerator/.test(e.message))
    assert.doesNotThrow(() => new Task({ taskType: 'echo', id: newTaskId(1, mulberry32(1)) }))
  })

  it('constructs like the seed, in snake_case or camelCase', () => {
    Task.idGenerator = monotonicTaskIds(() => NOW, mulberry32(2))
    const a = new Task({ task_type: 'echo', payload: { message: 'Hello World!' }, priority: TaskPriority.HIGH })
    const b = new Task({
      taskType: 'python_eval', payload: { expression: 'sum(range(10))' },
      requirements: new TaskRequirements({ min_cpu_cores: 4, min_memory_gb: 8, required_platform: 'linux', timeout_seconds: 60 }),
      sandboxConfig: new SandboxConfig({ allow_network: false, memory_limit: '2GB' }), requiredPermissions: ['read_files']
    })
    assert.equal(a.taskType, 'echo')
    assert.equal(a.priority, TaskPriority.HIGH)
    assert.equal(a.createdAt, NOW)
    assert.ok(a.id < b.id)
    assert.equal(b.requirements.minCpuCores, 4)
    assert.equal(b.requirements.requiredPlatform, 'linux')
    assert.equal(b.sandboxConfig?.memoryLimitBytes, 2 * 2 ** 30)
    assert.throws(() => new Task({ task_type: 'echo', requirements: { min_cpu_cores: -1 } }), InvalidTaskSpecError)
  })

  it('toData is plain and deep-copied; fromData wraps it back', () => {
    Task.idGenerator = monotonicTaskIds(() => NOW, mulberry32(2))
    const t = new Task({ taskType: 'echo', batchId: 'b', requirements: { exclude_devices: ['d1'] } })
    const d = t.toData()
    assert.equal(Object.getPrototypeOf(d), Object.prototype)
    d.requirements.excludeDevices.push('d2')
    assert.deepEqual(t.requirements.excludeDevices, ['d1'])
    const back = Task.fromData(d)
    assert.ok(back instanceof Task)
    assert.deepEqual(back.toData(), d)
    assert.deepEqual(Object.keys(d).sort(), ['batchId', 'createdAt', 'id', 'payload', 'priority', 'requiredPermissions', 'requirements', 'retryCount', 'taskType'])
  })

  it('clone gets a new id and links to the original', () => {
    Task.idGenerator = monotonicTaskIds(() => NOW, mulberry32(2))
    const t = new Task({ taskType: 'echo', idempotencyKey: 'once', retryCount: 2 })
    const c = t.clone({ now: NOW + 10, rng: mulberry32(5) })
    assert.notEqual(c.id, t.id)
    assert.equal(c.replaces, t.id)
    assert.equal(c.createdAt, NOW + 10)
    assert.equal(c.retryCount, 2)
    assert.equal(c.idempotencyKey, undefined)
    assert.equal(c.taskType, 'echo')
    assert.ok(c instanceof Task)
  })

  it('re-exports TaskStatus', () => {
    assert.equal(TaskStatus.TIMEOUT, 'timeout')
  })
})
