// `retire-cluster doctor`: runs without a node, --json has every check and the bid it would make.
import assert from 'node:assert/strict'
import { runCli } from './cli-runner.js'

describe('e2e: CLI doctor', function () {
  this.timeout(60_000)

  it('--json: one entry per check, each with a status, a finding and its effect; the advertised capabilities', async () => {
    const r = await runCli(['doctor', '--json', '--api-port', '0'])
    assert.equal(r.code, 0, r.stderr)
    const report = JSON.parse(r.stdout) as { checks: Array<{ name: string, status: string, detail: string, effect: string }>, advertise: Record<string, unknown> }
    const names = report.checks.map(c => c.name)
    for (const n of ['node', 'sqlite', 'python3', 'unshare', 'prlimit', 'cgroups', 'battery', 'thermal', 'memory', 'disk', 'mdns', 'p2p port']) {
      assert.ok(names.includes(n), `check ${n} in ${names.join(', ')}`)
    }
    for (const c of report.checks) {
      assert.ok(['ok', 'missing', 'unknown'].includes(c.status), `${c.name}: status ${c.status}`)
      assert.ok(c.detail.length > 0 && c.effect.length > 0, `${c.name}: detail and effect`)
    }
    assert.equal(report.checks.find(c => c.name === 'sqlite')?.status, 'ok', 'the test machine runs nodes')
    assert.equal(typeof report.advertise.cpuCores, 'number')
    assert.deepEqual(Object.keys(report.advertise.sandbox as object).sort(), ['cpu', 'filesystem', 'memory', 'network'])
  })

  it('text: the checks, then what it would advertise', async () => {
    const r = await runCli(['doctor'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Checks/)
    assert.match(r.stdout, /Would advertise:/)
    assert.match(r.stdout, /sandbox network=(true|false)/)
  })
})
