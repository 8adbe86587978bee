import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { rankDevices, scoreDevice } from '../../src/sched/score.js'
import { defaultRequirements, parseRequirements } from '../../src/sched/requirements.js'
import { parseTaskSpec } from '../../src/sched/task.js'
import { mulberry32 } from '../../src/sched/rng.js'
import type { DeviceBid } from '../../src/sched/types.js'

function bid (over: Partial<DeviceBid> = {}): DeviceBid {
  return {
    nodeId: '12D3KooWlaptop', name: 'laptop', incarnation: 1, seq: 1, role: 'compute', platform: 'linux', arch: 'x86_64',
    cpuCores: 4, memoryGb: 8, storageGb: 100, gpu: false, sensors: [], internet: true, bandwidthMbps: 100,
    taskTypes: ['echo'], permissions: ['read_files'], sandbox: { network: true, memory: true, cpu: true, filesystem: true },
    cpuUsage: 10, memoryUsage: 25, memoryUsedGb: 2, activeTasks: 0, maxConcurrentTasks: 4, latencyMs: 5, ...over
  }
}

const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`)

describe('sched scoreDevice', () => {
  it('implements CPU 40 %, memory 30 %, load 20 %, latency 10 %', () => {
    const req = defaultRequirements()
    // idle, plenty of memory, no load, no latency -> 1
    close(scoreDevice(bid({ cpuUsage: 0, memoryGb: 8, memoryUsedGb: 0, activeTasks: 0, latencyMs: 0 }), req), 1)
    // 50 % cpu: 0.4*0.5; 0.5 GB free of the 1 GB reference: 0.3*0.5; 2/4 slots: 0.2*0.5; 500 ms: 0.1*0.5
    close(scoreDevice(bid({ cpuUsage: 50, memoryGb: 1, memoryUsedGb: 0.5, activeTasks: 2, maxConcurrentTasks: 4, latencyMs: 500 }), req), 0.5)
    // fully busy: 0
    close(scoreDevice(bid({ cpuUsage: 100, memoryGb: 4, memoryUsedGb: 4, activeTasks: 4, maxConcurrentTasks: 4, latencyMs: 5000 }), req), 0)
  })

  it('a zero min_memory_gb does not divide by zero; memory is judged against what the task asks', () => {
    const zero = parseRequirements({ min_memory_gb: 0 })
    const s = scoreDevice(bid({ memoryGb: 0, memoryUsedGb: 0 }), zero)
    assert.ok(Number.isFinite(s))
    const big = parseRequirements({ min_memory_gb: 8 })
    const d = bid({ cpuUsage: 0, memoryGb: 8, memoryUsedGb: 4, latencyMs: 0 }) // 4 GB free
    close(scoreDevice(d, big), 0.4 + 0.3 * 0.5 + 0.2 + 0.1)
    close(scoreDevice(d, zero), 1)
    assert.ok(Number.isFinite(scoreDevice(bid({ memoryUsedGb: 20 }), zero))) // used > total is clamped
  })

  it('in-flight assignments lower the load score; zero slots scores no load', () => {
    const d = bid({ activeTasks: 1, maxConcurrentTasks: 4 })
    close(scoreDevice(d, defaultRequirements(), 0) - scoreDevice(d, defaultRequirements(), 2), 0.2 * 0.5)
    assert.ok(Number.isFinite(scoreDevice(bid({ maxConcurrentTasks: 0 }), defaultRequirements())))
  })

  it('is deterministic and within [0, 1] over random devices', () => {
    const rng = mulberry32(3)
    for (let i = 0; i < 1000; i++) {
      const d = bid({
        cpuUsage: rng() * 100, memoryGb: rng() * 16, memoryUsedGb: rng() * 16, activeTasks: Math.floor(rng() * 5),
        maxConcurrentTasks: 1 + Math.floor(rng() * 4), latencyMs: rng() * 3000
      })
      const req = parseRequirements({ min_memory_gb: Math.floor(rng() * 3) })
      const s = scoreDevice(d, req)
      assert.ok(s >= 0 && s <= 1, `score ${s}`)
      assert.equal(scoreDevice(d, req), s)
    }
  })
})

describe('sched rankDevices', () => {
  const task = parseTaskSpec({ task_type: 'echo', requirements: { min_cpu_cores: 2 } }, { now: 1, rng: mulberry32(1) })

  it('drops devices that fail requirements and sorts best first', () => {
    const devices = [
      bid({ nodeId: 'busy', cpuUsage: 90 }),
      bid({ nodeId: 'small', cpuCores: 1, cpuUsage: 0 }),
      bid({ nodeId: 'idle', cpuUsage: 0 }),
      bid({ nodeId: 'full', activeTasks: 4 })
    ]
    const r = rankDevices(devices, task, new Map())
    assert.deepEqual(r.map(x => x.device.nodeId), ['idle', 'busy'])
    assert.ok(r[0].score > r[1].score)
  })

  it('breaks ties by nodeId whatever the input order', () => {
    const devices = ['c', 'a', 'd', 'b'].map(nodeId => bid({ nodeId }))
    const rng = mulberry32(8)
    for (let i = 0; i < 20; i++) {
      const shuffled = [...devices].sort(() => rng() - 0.5)
      assert.deepEqual(rankDevices(shuffled, task, new Map()).map(x => x.device.nodeId), ['a', 'b', 'c', 'd'])
    }
  })

  it('spreads a burst: in-flight counts push a device down and out when full', () => {
    const devices: DeviceBid[] = [bid({ nodeId: 'a' }), bid({ nodeId: 'b' })]
    const inflight = new Map<string, number>()
    const picks: string[] = []
    for (let i = 0; i < 8; i++) {
      const best = rankDevices(devices, task, inflight)[0]
      if (best === undefined) break
      picks.push(best.device.nodeId)
      inflight.set(best.device.nodeId, (inflight.get(best.device.nodeId) ?? 0) + 1)
    }
    assert.deepEqual(picks, ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b'])
    assert.deepEqual(rankDevices(devices, task, inflight), [])
  })
})
