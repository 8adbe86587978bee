// The device policy on scripted signal series (fake clock: times are plain numbers).
import assert from 'node:assert/strict'
import { DevicePolicy, devicePolicyProblem, isPowered, type BatterySignal, type DeviceSignals } from '../../src/sched/device-policy.js'

const S = 1000
const calm = (at: number, battery: DeviceSignals['battery'] = 'none'): DeviceSignals => ({
  at, battery, thermal: { hottestC: 45, zone: 'cpu' }, throttle: { freqRatio: 1 },
  memory: { availableBytes: 4e9, totalBytes: 8e9 }, disk: { freeBytes: 50e9, totalBytes: 100e9 },
  otherCpuPercent: 0, ownerIdleMs: 3_600_000
})
const bat = (percent: number, status: BatterySignal['status'], onMains: boolean | 'unknown', extra: Partial<BatterySignal> = {}): BatterySignal => ({ percent, status, onMains, ...extra })

/** run a series; returns the states seen after each sample and the transitions */
function run (p: DevicePolicy, series: DeviceSignals[]): { states: string[], transitions: Array<{ at: number, to: string }> } {
  const states: string[] = []
  const transitions: Array<{ at: number, to: string }> = []
  let prev = p.decision.state as string
  for (const s of series) {
    const d = p.observe(s)
    states.push(d.state)
    if (d.state !== prev) transitions.push({ at: s.at, to: d.state })
    prev = d.state
  }
  return { states, transitions }
}

describe('device policy', () => {
  it('a charge-limited laptop ("Not charging" on mains) is powered; unplugged it is not', () => {
    assert.equal(isPowered(bat(60, 'not_charging', true)), true)
    assert.equal(isPowered(bat(60, 'discharging', 'unknown')), false)
    assert.equal(isPowered(bat(60, 'not_charging', 'unknown')), 'unknown')
    const p = new DevicePolicy()
    const r = run(p, Array.from({ length: 600 }, (_, i) => calm(i * S, bat(60, 'not_charging', true))))
    assert.deepEqual(r.transitions, [])
  })

  it('on battery: cordoned after 3 samples with the reason, draining after 60 s, back after 60 s on mains', () => {
    const p = new DevicePolicy()
    const series = [
      ...Array.from({ length: 5 }, (_, i) => calm(i * S, bat(95, 'charging', true))),
      ...Array.from({ length: 80 }, (_, i) => calm((5 + i) * S, bat(95, 'discharging', false))),
      ...Array.from({ length: 70 }, (_, i) => calm((85 + i) * S, bat(95, 'charging', true)))
    ]
    const r = run(p, series)
    assert.deepEqual(r.transitions.map(t => t.to), ['cordoned', 'draining', 'active'])
    assert.equal(r.transitions[0]!.at, 7 * S, 'third discharging sample')
    assert.equal(r.transitions[1]!.at, 67 * S, '60 s after the cordon')
    assert.equal(r.transitions[2]!.at, 85 * S + 60 * S, '60 s of mains')
    const p2 = new DevicePolicy()
    run(p2, Array.from({ length: 3 }, (_, i) => calm(i * S, bat(43, 'discharging', false))))
    assert.match(p2.decision.reason ?? '', /on battery 43 %|battery low 43 %/)
  })

  it('a signal flapping every second causes at most one transition per dwell', () => {
    const p = new DevicePolicy()
    // mains / battery alternating every second for 10 minutes: never 3 samples in a row → never cordons
    const flap = Array.from({ length: 600 }, (_, i) => calm(i * S, bat(95, i % 2 === 0 ? 'charging' : 'discharging', i % 2 === 0)))
    assert.deepEqual(run(p, flap).transitions, [])
    // heat flapping around the cordon line (cordon at 80 with an 85 trip) for 20 minutes
    const p2 = new DevicePolicy()
    const hot = Array.from({ length: 1200 }, (_, i) => ({ ...calm(i * S), thermal: { hottestC: Math.floor(i / 3) % 2 === 0 ? 81 : 70, zone: 'cpu', passiveTripC: 85 } }))
    const r = run(p2, hot)
    const dwell = 300 * S
    for (let i = 1; i < r.transitions.length; i++) assert.ok(r.transitions[i]!.at - r.transitions[i - 1]!.at >= dwell, JSON.stringify(r.transitions))
    assert.ok(r.transitions.length >= 1)
  })

  it('heat: a hot phone drains at once (hard limit), with "hot" in the reason; resumes only after 5 min cool', () => {
    const p = new DevicePolicy()
    const d = p.observe({ ...calm(0), thermal: { hottestC: 86, zone: 'cpu-0-0', passiveTripC: 85 } })
    assert.equal(d.state, 'draining')
    assert.match(d.reason ?? '', /^hot 86 °C/)
    const series = Array.from({ length: 400 }, (_, i) => ({ ...calm((1 + i) * S), thermal: { hottestC: 60, zone: 'cpu-0-0', passiveTripC: 85 } }))
    const r = run(p, series)
    assert.deepEqual(r.transitions, [{ at: 301 * S, to: 'active' }])
    const warm = new DevicePolicy().observe({ ...calm(0, bat(95, 'charging', true, { temperatureC: 46.5 })) })
    assert.equal(warm.state, 'draining')
    assert.match(warm.reason ?? '', /battery hot 47 °C/)
  })

  it('memory pressure cordons at once; low disk after 3 samples', () => {
    const p = new DevicePolicy()
    assert.equal(p.observe({ ...calm(0), memory: { availableBytes: 60e6, totalBytes: 1e9 } }).state, 'cordoned')
    const p2 = new DevicePolicy()
    const low = (at: number): DeviceSignals => ({ ...calm(at), disk: { freeBytes: 0.5e9, totalBytes: 100e9 } })
    assert.deepEqual(run(p2, [low(0), low(S), low(2 * S)]).states, ['active', 'active', 'cordoned'])
    assert.match(p2.decision.reason ?? '', /disk low/)
  })

  it('unknown signals change nothing (never read as "no battery"); a mobile device with an unknown battery gets 1 slot', () => {
    const unknown: DeviceSignals = { at: 0, battery: 'unknown', thermal: 'unknown', throttle: 'unknown', memory: 'unknown', disk: 'unknown', otherCpuPercent: 'unknown', ownerIdleMs: 'unknown' }
    const p = new DevicePolicy({}, true)
    const r = run(p, Array.from({ length: 100 }, (_, i) => ({ ...unknown, at: i * S })))
    assert.deepEqual(r.transitions, [])
    assert.equal(p.decision.maxSlots, 1)
    assert.equal(new DevicePolicy({}, false).observe(unknown).maxSlots, undefined)
  })

  it('throttling: Pi under-voltage cordons; frequency capping for 30 s halves the slots', () => {
    const p = new DevicePolicy()
    const pi = (at: number): DeviceSignals => ({ ...calm(at), throttle: { freqRatio: 0.4, piBits: 0x50005 } })
    const r = run(p, Array.from({ length: 40 }, (_, i) => pi(i * S)))
    assert.equal(r.states[2], 'cordoned')
    assert.match(p.decision.reason ?? '', /under-voltage/)
    const p2 = new DevicePolicy()
    run(p2, Array.from({ length: 31 }, (_, i) => ({ ...calm(i * S), throttle: { freqRatio: 0.4 } })))
    assert.equal(p2.decision.state, 'active')
    assert.equal(p2.decision.slotsFactor, 0.5)
  })

  it('owner rules apply to battery devices by default (auto), not to a server', () => {
    const busy = (at: number, battery: DeviceSignals['battery']): DeviceSignals => ({ ...calm(at, battery), otherCpuPercent: 80 })
    const server = new DevicePolicy()
    assert.deepEqual(run(server, [busy(0, 'none'), busy(S, 'none'), busy(2 * S, 'none')]).transitions, [])
    const laptop = new DevicePolicy()
    const b = bat(100, 'full', true)
    assert.equal(run(laptop, [busy(0, b), busy(S, b), busy(2 * S, b)]).states[2], 'cordoned')
  })

  it('config: overrides apply; bad settings are named', () => {
    const p = new DevicePolicy({ cordonOnBattery: false })
    assert.deepEqual(run(p, Array.from({ length: 10 }, (_, i) => calm(i * S, bat(95, 'discharging', false)))).transitions, [])
    assert.equal(devicePolicyProblem({ cordonOnBattery: false, enterSamples: 5 }), undefined)
    assert.match(devicePolicyProblem({ enterSample: 5 }) ?? '', /unknown device policy setting 'enterSample'/)
    assert.match(devicePolicyProblem({ enterSamples: '5' }) ?? '', /must be a number/)
  })
})
