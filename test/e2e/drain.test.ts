// Drain and undrain from the outside (issue 13): `retire-cluster drain|undrain`, POST
// /v1/nodes/self/drain|undrain, what `nodes` shows, and bad input refused with nothing changed.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { startCluster, type TestCluster } from './cluster.js'
import { ApiClientError } from '../../src/node/api/client.js'
import { eventually } from '../helpers/eventually.js'
import { runCli } from './cli-runner.js'

describe('e2e: drain over HTTP and the CLI', function () {
  this.timeout(60_000)
  let cluster: TestCluster
  before(async () => { cluster = await startCluster(1) })
  after(async () => { await cluster?.stop() })

  const deviceState = async (): Promise<string | undefined> => (await cluster.clients[0].nodes())[0]?.device?.state ?? 'active'

  it('refuses a bad deadline or reason with 400 and stays active', async () => {
    const c = cluster.clients[0]
    for (const body of [{ deadlineMs: -5 }, { deadlineMs: 'soon' }, { deadlineMs: 86_400_001 }, { reason: '' }, { reason: 'x'.repeat(201) }]) {
      await assert.rejects(c.request('POST', '/v1/nodes/self/drain', body), (e: unknown) => e instanceof ApiClientError && e.status === 400, JSON.stringify(body))
    }
    assert.equal(await deviceState(), 'active')
  })

  it('retire-cluster drain takes the node out of placement; undrain brings it back', async () => {
    const api = ['--api', cluster.clients[0].url, '--token-file', join(cluster.dataDirs[0], 'api-token')]
    const d = await runCli(['drain', '--deadline', '30s', '--reason', 'moving desks', ...api])
    assert.equal(d.code, 0, d.stderr)
    assert.match(d.stdout, /device (draining|cordoned) \(moving desks\)/)
    await eventually(async () => { assert.notEqual(await deviceState(), 'active') }, { timeoutMs: 5000 })
    // no new work while drained: a submitted task waits
    const id = await cluster.clients[0].submitTask({ task_type: 'echo', payload: { x: 1 } })
    await new Promise(resolve => setTimeout(resolve, 1500))
    assert.equal((await cluster.clients[0].getTask(id)).status, 'pending')
    const u = await runCli(['undrain', '--json', ...api])
    assert.equal(u.code, 0, u.stderr)
    assert.equal(JSON.parse(u.stdout).state, 'active')
    assert.equal((await cluster.clients[0].waitTask(id, 20_000)).status, 'completed')
    const bad = await runCli(['drain', '--deadline', 'tomorrow', ...api])
    assert.equal(bad.code, 2, bad.stderr)
    assert.equal(await deviceState(), 'active')
  })
})
