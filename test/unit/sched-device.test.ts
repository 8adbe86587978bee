import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { bidProblem, isValidBid, matchRequirements, meetsRequirements } from '../../src/sched/device.js'
import { parseTaskSpec } from '../../src/sched/task.js'
import { mulberry32 } from '../../src/sched/rng.js'
import type { DeviceBid, TaskData } from '../../src/sched/types.js'

function bid (over: Partial<DeviceBid> = {}): DeviceBid {
  return {
    nodeId: '12D3KooWlaptop', name: 'laptop', incarnation: 1, seq: 1, role: 'compute', platform: 'linux', arch: 'x86_64',
    cpuCores: 4, memoryGb: 8, storageGb: 100, gpu: false, sensors: [], internet: true, bandwidthMbps: 100,
    taskTypes: ['echo', 'sleep', 'python_eval', 'command'], permissions: ['read_files', 'write_files'],
    sandbox: { network: true, memory: true, cpu: true, filesystem: true }, cpuUsage: 10, memoryUsage: 25,
    memoryUsedGb: 2, activeTasks: 0, maxConcurrentTasks: 4, latencyMs: 5, ...over
  }
}

const spec = (s: Record<string, unknown>): TaskData => parseTaskSpec({ task_type: 'echo', ...s }, { now: 1, rng: mulberry32(1) })
const unmet = (d: DeviceBid, t: TaskData, inflight = 0): string[] => {
  const r = matchRequirements(d, t, { inflight })
  return r.ok ? [] : r.unmet
}

describe('sched matchRequirements', () => {
  it('a default task matches a capable idle device', () => {
    assert.deepEqual(matchRequirements(bid(), spec({})), { ok: true })
  })

  it('reports each unmet requirement field with a human reason', () => {
    const cases: Array<[Record<string, unknown>, Partial<DeviceBid>, string]> = [
      [{ requirements: { min_cpu_cores: 8 } }, {}, 'min_cpu_cores: needs 8, device has 4'],
      [{ requirements: { min_memory_gb: 16 } }, {}, 'min_memory_gb: needs 16, device has 8'],
      [{ requirements: { min_storage_gb: 500 } }, {}, 'min_storage_gb: needs 500, device has 100'],
      [{ requirements: { required_platform: 'android' } }, {}, 'required_platform: needs android, device is linux'],
      [{ requirements: { required_arch: 'arm64' } }, {}, 'required_arch: needs arm64, device is x86_64'],
      [{ requirements: { required_role: 'mobile' } }, {}, 'required_role: needs mobile, device is compute'],
      [{ requirements: { max_cpu_usage: 50 } }, { cpuUsage: 93 }, 'max_cpu_usage: needs <= 50%, device at 93%'],
      [{ requirements: { max_memory_usage: 70 } }, { memoryUsage: 71 }, 'max_memory_usage: needs <= 70%, device at 71%'],
      [{ requirements: { requires_internet: true } }, { internet: false }, 'requires_internet: device has no internet'],
      [{ requirements: { bandwidth_mbps: 500 } }, {}, 'bandwidth_mbps: needs 500, device has 100'],
      [{ requirements: { requires_gpu: true } }, {}, 'requires_gpu: device has no gpu'],
      [{ requirements: { requires_sensors: ['gps'] } }, { sensors: ['camera'] }, 'requires_sensors: device has no gps'],
      [{ requirements: { exclude_devices: ['12D3KooWlaptop'] } }, {}, 'exclude_devices: device is excluded'],
      [{ task_type: 'render' }, {}, "task_type: device cannot run 'render'"],
      [{ required_permissions: ['system_commands'] }, {}, 'required_permissions: device does not grant system_commands'],
      [{ requirements: { exclusive: true } }, { activeTasks: 1 }, 'exclusive: needs an idle device, device has 1 active'],
      [{}, { exclusiveBusy: true, activeTasks: 1 }, 'exclusive: device is running an exclusive task'],
      [{}, { activeTasks: 4 }, 'no free slot'],
      [{ sandbox_config: { allow_network: false, allow_filesystem: true } }, { sandbox: { network: false, memory: true, cpu: true, filesystem: true } }, 'sandbox: cannot block network access'],
      [{ sandbox_config: { allow_network: true, allow_filesystem: true, memory_limit: '1GB' } }, { sandbox: { network: true, memory: false, cpu: true, filesystem: true } }, 'sandbox: cannot enforce a memory limit'],
      [{ sandbox_config: { allow_network: true, allow_filesystem: true, cpu_limit: 50 } }, { sandbox: { network: true, memory: true, cpu: false, filesystem: true } }, 'sandbox: cannot enforce a cpu limit'],
      [{ sandbox_config: { allow_network: true, allow_filesystem: true, allowed_paths: ['/tmp'] } }, { sandbox: { network: true, memory: true, cpu: true, filesystem: false } }, 'sandbox: cannot restrict filesystem access']
    ]
    for (const [s, d, reason] of cases) {
      assert.deepEqual(unmet(bid(d), spec(s)), [reason], JSON.stringify(s))
    }
  })

  it('a demanding task matches a device that has everything', () => {
    const t = spec({
      task_type: 'python_eval', required_permissions: ['read_files', 'network_access'],
      sandbox_config: { memory_limit: '1GB', cpu_limit: 50, allowed_paths: ['/tmp'], allow_filesystem: true },
      requirements: {
        min_cpu_cores: 4, min_memory_gb: 8, min_storage_gb: 100, required_platform: 'android', required_arch: 'arm64',
        required_role: 'mobile', max_cpu_usage: 20, max_memory_usage: 30, requires_internet: true, bandwidth_mbps: 100,
        requires_gpu: true, requires_sensors: ['gps', 'camera'], exclusive: true, exclude_devices: ['someone-else']
      }
    })
    const d = bid({
      platform: 'android', arch: 'arm64', role: 'mobile', gpu: true, sensors: ['camera', 'gps', 'accel'],
      permissions: ['read_files', 'network_access']
    })
    assert.deepEqual(matchRequirements(d, t), { ok: true })
    assert.equal(unmet({ ...d, cpuUsage: 21 }, t).length, 1)
  })

  it('lists every unmet requirement at once', () => {
    const t = spec({ task_type: 'render', requirements: { min_cpu_cores: 16, requires_gpu: true, requires_sensors: ['gps', 'camera'] } })
    assert.deepEqual(unmet(bid({ activeTasks: 4 }), t), [
      "task_type: device cannot run 'render'", 'min_cpu_cores: needs 16, device has 4', 'requires_gpu: device has no gpu',
      'requires_sensors: device has no gps', 'requires_sensors: device has no camera', 'no free slot'
    ])
  })

  it('counts the leader\'s in-flight assignments against capacity and exclusivity', () => {
    assert.deepEqual(unmet(bid({ activeTasks: 2 }), spec({}), 1), [])
    assert.deepEqual(unmet(bid({ activeTasks: 2 }), spec({}), 2), ['no free slot'])
    assert.deepEqual(unmet(bid(), spec({ requirements: { exclusive: true } }), 1), ['exclusive: needs an idle device, device has 1 active'])
    assert.deepEqual(unmet(bid(), spec({ requirements: { exclusive: true } }), 0), [])
    assert.deepEqual(unmet(bid({ maxConcurrentTasks: 0 }), spec({})), ['no free slot'])
  })

  it('usage limits are inclusive and a default sandbox needs network and filesystem enforcement', () => {
    assert.deepEqual(unmet(bid({ cpuUsage: 80 }), spec({ requirements: { max_cpu_usage: 80 } })), [])
    const sandboxed = spec({ sandbox_config: {} })
    assert.deepEqual(unmet(bid(), sandboxed), [])
    assert.deepEqual(unmet(bid({ sandbox: { network: false, memory: false, cpu: false, filesystem: false } }), sandboxed),
      ['sandbox: cannot block network access', 'sandbox: cannot restrict filesystem access'])
  })
})

describe('sched meetsRequirements', () => {
  it('agrees with matchRequirements(...).ok on random devices and tasks (seeded)', () => {
    const rng = mulberry32(21)
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rng() * xs.length)]
    let oks = 0
    for (let i = 0; i < 3000; i++) {
      const d = bid({
        nodeId: pick(['a', 'b', 'c']), platform: pick(['linux', 'android'] as const), arch: pick(['x86_64', 'arm64']),
        role: pick(['compute', 'mobile'] as const), cpuCores: 1 + Math.floor(rng() * 8), memoryGb: rng() * 16,
        storageGb: rng() * 100, gpu: rng() < 0.5, sensors: rng() < 0.5 ? ['gps'] : [], internet: rng() < 0.8,
        bandwidthMbps: rng() * 100, cpuUsage: rng() * 100, memoryUsage: rng() * 100, activeTasks: Math.floor(rng() * 4),
        permissions: rng() < 0.5 ? ['read_files'] : ['read_files', 'system_commands'], exclusiveBusy: rng() < 0.1,
        sandbox: { network: rng() < 0.7, memory: rng() < 0.7, cpu: rng() < 0.7, filesystem: rng() < 0.7 }
      })
      const req: Record<string, unknown> = {}
      if (rng() < 0.3) req.min_cpu_cores = 1 + Math.floor(rng() * 6)
      if (rng() < 0.3) req.min_memory_gb = rng() * 8
      if (rng() < 0.2) req.required_platform = pick(['linux', 'android'])
      if (rng() < 0.2) req.required_arch = pick(['x86_64', 'arm64'])
      if (rng() < 0.2) req.required_role = pick(['compute', 'mobile'])
      if (rng() < 0.2) req.max_cpu_usage = rng() * 100
      if (rng() < 0.2) req.requires_internet = true
      if (rng() < 0.2) req.requires_gpu = true
      if (rng() < 0.2) req.requires_sensors = ['gps']
      if (rng() < 0.2) req.exclusive = true
      if (rng() < 0.2) req.exclude_devices = [pick(['a', 'b', 'c'])]
      const s: Record<string, unknown> = { task_type: pick(['echo', 'echo', 'render']), requirements: req }
      if (rng() < 0.3) s.required_permissions = ['system_commands']
      if (rng() < 0.3) s.sandbox_config = { allow_network: rng() < 0.5, allow_filesystem: rng() < 0.5, cpu_limit: rng() < 0.5 ? 50 : 100 }
      const t = spec(s)
      const inflight = Math.floor(rng() * 3)
      const full = matchRequirements(d, t, { inflight })
      assert.equal(meetsRequirements(d, t, inflight), full.ok, JSON.stringify({ s, full }))
      if (full.ok) oks++
    }
    assert.ok(oks > 100 && oks < 2900, `both outcomes exercised (${oks} ok)`)
  })
})

describe('sched isValidBid', () => {
  it('accepts a full bid, with or without the optional fields', () => {
    assert.equal(isValidBid(bid()), true)
    assert.equal(isValidBid(bid({ battery: { percent: 55, charging: true }, exclusiveBusy: false })), true)
    assert.equal(isValidBid({ ...bid(), futureField: 1 }), true)
  })

  it('rejects each malformed field, naming it', () => {
    const bad: Array<[string, unknown]> = [
      ['nodeId', ''], ['nodeId', 'x'.repeat(129)], ['name', 3], ['incarnation', -1], ['seq', 1.5], ['role', 'phone'],
      ['platform', 'beos'], ['arch', ''], ['cpuCores', -1], ['memoryGb', Number.NaN], ['storageGb', Infinity], ['gpu', 'no'],
      ['sensors', 'gps'], ['sensors', Array(33).fill('s')], ['battery', { percent: 150, charging: true }], ['battery', null],
      ['internet', 1], ['bandwidthMbps', -3], ['taskTypes', [1]], ['taskTypes', Array(257).fill('t')], ['permissions', ['root']],
      ['sandbox', { network: true }], ['cpuUsage', 101], ['memoryUsage', -1], ['memoryUsedGb', '2'], ['activeTasks', 0.5],
      ['maxConcurrentTasks', 5000], ['latencyMs', -1], ['exclusiveBusy', 'yes']
    ]
    for (const [field, value] of bad) {
      const b = { ...bid(), [field]: value }
      assert.equal(isValidBid(b), false, `${field}=${JSON.stringify(value)}`)
      assert.equal(bidProblem(b), `bad or missing field ${field}`)
    }
    const missing: Record<string, unknown> = { ...bid() }
    delete missing.sandbox
    assert.equal(bidProblem(missing), 'bad or missing field sandbox')
  })

  it('rejects non-objects and bloated objects, and never throws on random junk', () => {
    for (const x of [null, undefined, 1, 'bid', [], [bid()]]) assert.equal(isValidBid(x), false)
    const bloated: Record<string, unknown> = { ...bid() }
    for (let i = 0; i < 100; i++) bloated[`k${i}`] = i
    assert.equal(bidProblem(bloated), 'too many fields')
    const rng = mulberry32(5)
    const pick = (): unknown => [null, 0, -1, 'x', true, [], {}, [1], 1e308, Number.NaN][Math.floor(rng() * 10)]
    for (let i = 0; i < 2000; i++) {
      const b: Record<string, unknown> = { ...bid() }
      const keys = Object.keys(b)
      b[keys[Math.floor(rng() * keys.length)]] = pick()
      assert.doesNotThrow(() => isValidBid(b))
    }
  })
})
