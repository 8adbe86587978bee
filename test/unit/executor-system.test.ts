import assert from 'node:assert/strict'
import { sampleCapabilities, sampleLoad, detectSandbox } from '../../src/node/system/sample.js'
import { ProcSampler, procRssBytes } from '../../src/node/system/proc.js'

describe('system sampling', () => {
  it('capabilities describe this device', () => {
    const c = sampleCapabilities({ role: 'storage', internet: true })
    assert.equal(c.role, 'storage')
    assert.equal(c.internet, true)
    assert.ok(c.cpuCores >= 1)
    assert.ok(c.memoryGb > 0)
    assert.ok(c.storageGb >= 0)
    assert.equal(typeof c.arch, 'string')
    assert.ok(['linux', 'android', 'windows', 'macos'].includes(c.platform))
  })

  it('load is in range', () => {
    sampleLoad()
    const l = sampleLoad()
    assert.ok(l.cpuUsage >= 0 && l.cpuUsage <= 100)
    assert.ok(l.memoryUsage > 0 && l.memoryUsage <= 100)
    assert.ok(l.memoryUsedGb > 0)
  })

  it('detectSandbox answers four booleans', async () => {
    const s = await detectSandbox()
    assert.deepEqual(Object.keys(s).sort(), ['cpu', 'filesystem', 'memory', 'network'])
    for (const v of Object.values(s)) assert.equal(typeof v, 'boolean')
  })

  it('/proc sampling sees this process, and nothing for a missing pid', function () {
    if (process.platform !== 'linux') this.skip()
    const rss = procRssBytes(process.pid)!
    assert.ok(rss > 10 * 1024 * 1024)
    const s = new ProcSampler(process.pid)
    assert.equal(s.sample(Date.now())!.cpu, 0)
    const t0 = Date.now()
    while (Date.now() - t0 < 500) { /* burn some CPU: one full sampling window */ }
    assert.ok(s.sample(Date.now())!.cpu > 0)
    assert.equal(new ProcSampler(2 ** 22 + 1).sample(Date.now()), undefined)
  })
})
