// Signal readers on fixture trees (test/fixtures/devices/<device>/ stands for '/').
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SignalSampler, parseTermuxBattery, parseThrottled, readSysfsBattery } from '../../src/node/system/signals.js'
import { DevicePolicy, isPowered } from '../../src/sched/device-policy.js'

const FIX = fileURLToPath(new URL('../fixtures/devices', import.meta.url))
const dev = (name: string): string => join(FIX, name)

describe('device signals (fixture trees)', () => {
  it('laptop on mains, charge-limited "Not charging": powered, 60 %, thermal with its passive trip', () => {
    const s = new SignalSampler({ root: dev('laptop-mains-not-charging'), dataDir: FIX }).sample(0)
    assert.ok(typeof s.battery === 'object')
    assert.deepEqual({ ...s.battery }, { percent: 60, status: 'not_charging', onMains: true })
    assert.equal(isPowered(s.battery), true)
    assert.deepEqual(s.thermal, { hottestC: 52, zone: 'x86_pkg_temp', passiveTripC: 95 })
    assert.deepEqual(s.throttle, { freqRatio: 1 })
    assert.deepEqual(s.memory, { availableBytes: 4_000_000 * 1024, totalBytes: 8_000_000 * 1024, psiSomeAvg10: 0 })
    assert.equal(typeof s.disk, 'object')
    assert.equal(s.ownerIdleMs, 'unknown')
  })

  it('phone at 15 %, unplugged: battery temp in tenths of °C; the policy cordons then drains as "battery low"', () => {
    const sampler = new SignalSampler({ root: dev('phone-15pct'), dataDir: FIX })
    const s = sampler.sample(0)
    assert.deepEqual(s.battery, { percent: 15, status: 'discharging', onMains: false, temperatureC: 31 })
    assert.equal(s.thermal, 'unknown')
    const p = new DevicePolicy()
    for (let i = 0; i < 3; i++) p.observe(sampler.sample(i * 1000))
    assert.equal(p.decision.state, 'draining')
    assert.equal(p.decision.reason, 'battery low 15 %')
  })

  it('hot phone: hottest zone is the SoC at 81 °C with its passive trip (85), battery 46.5 °C', () => {
    const s = new SignalSampler({ root: dev('phone-hot'), dataDir: FIX }).sample(0)
    assert.deepEqual(s.thermal, { hottestC: 81, zone: 'cpu-0-0', passiveTripC: 85 })
    assert.ok(typeof s.battery === 'object' && s.battery.temperatureC === 46.5)
    const d = new DevicePolicy().observe(s)
    assert.equal(d.state, 'draining')
    assert.match(d.reason ?? '', /battery hot 47 °C/)
  })

  it('throttled Pi: no battery ("none", not unknown), frequency 0.4 of max, vcgencmd bits, memory pressure', async () => {
    const sampler = new SignalSampler({ root: dev('pi-throttled'), binDir: join(dev('pi-throttled'), 'bin'), dataDir: FIX })
    sampler.sample(0)
    await sampler.settle()
    const s = sampler.sample(1000)
    assert.equal(s.battery, 'none')
    assert.deepEqual(s.throttle, { freqRatio: 0.4, piBits: 0x50005 })
    assert.deepEqual(s.memory, { availableBytes: 60_000 * 1024, totalBytes: 1_000_000 * 1024, psiSomeAvg10: 23.5 })
    const d = new DevicePolicy().observe(s)
    assert.equal(d.state, 'cordoned')
    assert.match(d.reason ?? '', /memory/)
  })

  it('Android with everything denied: every signal unknown; a hanging termux-battery-status times out, the loop never blocks', async () => {
    const sampler = new SignalSampler({ root: dev('android-denied'), binDir: join(dev('android-denied'), 'bin'), termux: true, commandTimeoutMs: 300, dataDir: '/nonexistent/dir' })
    const t0 = Date.now()
    const s = sampler.sample(0)
    assert.ok(Date.now() - t0 < 200, 'sample() does not wait for the command')
    assert.deepEqual({ ...s, at: 0 }, { at: 0, battery: 'unknown', thermal: 'unknown', throttle: 'unknown', memory: 'unknown', disk: 'unknown', otherCpuPercent: 'unknown', ownerIdleMs: 'unknown' })
    await sampler.settle()
    assert.ok(Date.now() - t0 < 3000, 'the hanging command was killed at its timeout')
    assert.equal(sampler.sample(20_000).battery, 'unknown')
  })

  it('Termux: termux-battery-status JSON; UNPLUGGED is on battery', async () => {
    const sampler = new SignalSampler({ root: dev('android-denied'), binDir: join(dev('termux-phone'), 'bin'), termux: true })
    sampler.sample(0)
    await sampler.settle()
    assert.deepEqual(sampler.sample(1000).battery, { percent: 43, status: 'discharging', onMains: false, temperatureC: 29.5 })
    assert.deepEqual(parseTermuxBattery('{"percentage":80,"plugged":"PLUGGED_AC","status":"NOT_CHARGING","health":"OVERHEAT"}'),
      { percent: 80, status: 'not_charging', onMains: true, overheat: true })
    assert.equal(parseTermuxBattery('not json'), 'unknown')
    assert.equal(parseThrottled('throttled=0x0\n'), 0)
  })

  it('a readable power_supply without a battery is "none"; a missing one is "unknown"', () => {
    assert.equal(readSysfsBattery(dev('pi-throttled')), 'none')
    assert.equal(readSysfsBattery(dev('android-denied')), 'unknown')
  })
})
