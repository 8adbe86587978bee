// `retire-cluster start` flags → node options: the device policy file, the signal root, and the two
// cluster settings an operator turns off (preemption, quarantine). Bad input is a usage error.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, isAbsolute } from 'node:path'
import { startCommand, toNodeOptions } from '../../src/node/cli/commands/start.js'
import { UsageError } from '../../src/node/cli/errors.js'

const base = { mdns: false, api: false, preemption: true, quarantine: true }

describe('cli start: policy and settings flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rc-start-flags-'))

  it('proposes nothing a flag did not turn off', async () => {
    const o = await toNodeOptions({ ...base })
    assert.equal(o.preemption, undefined)
    assert.equal(o.reliability, undefined)
    assert.equal(o.devicePolicy, undefined)
    assert.equal(o.signalRoot, undefined)
  })

  it('--no-preemption and --no-quarantine become cluster settings', async () => {
    const o = await toNodeOptions({ ...base, preemption: false, quarantine: false })
    assert.deepEqual(o.preemption, { enabled: false })
    assert.deepEqual(o.reliability, { quarantineFailures: 0 })
  })

  it('--device-policy reads and checks a JSON file; --no-device-policy turns it off', async () => {
    const good = join(dir, 'good.json')
    writeFileSync(good, JSON.stringify({ cordonOnBattery: false, chargeDrainPercent: 30 }))
    assert.deepEqual((await toNodeOptions({ ...base, devicePolicy: good })).devicePolicy, { cordonOnBattery: false, chargeDrainPercent: 30 })
    assert.equal((await toNodeOptions({ ...base, devicePolicy: false })).devicePolicy, false)
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, JSON.stringify({ chargeDrainPercent: 'low' }))
    await assert.rejects(toNodeOptions({ ...base, devicePolicy: bad }), (e: Error) => e instanceof UsageError && /chargeDrainPercent' must be a number/.test(e.message))
    const unknown = join(dir, 'unknown.json')
    writeFileSync(unknown, JSON.stringify({ batteryMin: 20 }))
    await assert.rejects(toNodeOptions({ ...base, devicePolicy: unknown }), (e: Error) => e instanceof UsageError && /unknown device policy setting 'batteryMin'/.test(e.message))
    const broken = join(dir, 'broken.json')
    writeFileSync(broken, '{ not json')
    await assert.rejects(toNodeOptions({ ...base, devicePolicy: broken }), (e: Error) => e instanceof UsageError && e.message.includes(broken))
    await assert.rejects(toNodeOptions({ ...base, devicePolicy: join(dir, 'missing.json') }), UsageError)
  })

  it('--signal-root is made absolute', async () => {
    const o = await toNodeOptions({ ...base, signalRoot: 'test/fixtures/devices' })
    assert.ok(o.signalRoot !== undefined && isAbsolute(o.signalRoot) && o.signalRoot.endsWith('test/fixtures/devices'))
  })

  it('commander maps the flags', () => {
    const cmd = startCommand({ out: () => {}, err: () => {} } as any)
    const names = cmd.options.map(o => o.long)
    for (const f of ['--device-policy', '--no-device-policy', '--signal-root', '--no-preemption', '--no-quarantine']) assert.ok(names.includes(f), f)
    cmd.parseOptions(['--no-preemption', '--signal-root', '/x', '--device-policy', '/p.json'])
    const v = cmd.opts()
    assert.equal(v.preemption, false)
    assert.equal(v.quarantine, true)
    assert.equal(v.signalRoot, '/x')
    assert.equal(v.devicePolicy, '/p.json')
  })
})
