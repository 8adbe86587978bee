// Cluster settings on a live 3-node cluster (issue 14): GET /v1/settings on any node, PATCH through
// a follower (forwarded to the leader), the CLI, admin only, and bad input refused with nothing changed.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { startCluster, type TestCluster } from './cluster.js'
import { ApiClientError } from '../../src/node/api/client.js'
import { eventually } from '../helpers/eventually.js'
import { runCli } from './cli-runner.js'

describe('e2e: cluster settings', function () {
  this.timeout(90_000)
  let cluster: TestCluster

  before(async () => { cluster = await startCluster(3) })
  after(async () => { await cluster?.stop() })

  const follower = (): number => cluster.nodes.findIndex(n => n.raftStatus().leaderId !== n.id)
  const everyNode = async (want: unknown): Promise<void> => {
    await eventually(async () => {
      for (const c of cluster.clients) assert.deepEqual(await c.settings(), want)
    }, { timeoutMs: 10_000 })
  }

  it('starts with no settings (every default) and changes through a follower', async () => {
    await everyNode({})
    const c = cluster.clients[follower()]!
    const s = await c.updateSettings({ maxQueueSize: 500, retentionMs: 3_600_000, rateLimits: [{ scope: 'type', key: 'echo', count: 50, perSeconds: 1 }] })
    const want = { maxQueueSize: 500, retentionMs: 3_600_000, rateLimits: [{ scope: 'type', key: 'echo', count: 50, perSeconds: 1 }] }
    assert.deepEqual(s, want)
    await everyNode(want)
    // null restores a default; fields not given stay
    assert.deepEqual(await c.updateSettings({ rateLimits: null, preemption: { enabled: false } }), { maxQueueSize: 500, retentionMs: 3_600_000, preemption: { enabled: false } })
    await everyNode({ maxQueueSize: 500, retentionMs: 3_600_000, preemption: { enabled: false } })
  })

  it('refuses bad input with 400 naming the field, and changes nothing', async () => {
    const c = cluster.clients[follower()]!
    const before = await c.settings()
    for (const [patch, field] of [[{ maxQueueSize: 0 }, 'maxQueueSize'], [{ retentionMs: -1 }, 'retentionMs'], [{ maxRetainedTasks: -1 }, 'maxRetainedTasks'], [{ bogus: 1 }, 'bogus'], [{}, 'settings'],
      [{ reliability: { weight: 'high' } }, 'reliability.weight'], [{ preemption: { enabled: true, extra: 1 } }, 'preemption.extra']] as const) {
      await assert.rejects(c.updateSettings(patch as any), (e: unknown) => e instanceof ApiClientError && e.status === 400 && e.field === field, JSON.stringify(patch))
    }
    await everyNode(before)
  })

  it('is admin only', async () => {
    const n = cluster.nodes[follower()]!
    await n.scheduler.setRole('carol', 'submitter')
    await assert.rejects(n.scheduler.updateSettings({ maxQueueSize: 7 }, { principal: 'carol' }), (e: Error & { type?: string }) => e.type === 'permission_denied')
    assert.notEqual(n.scheduler.getSettings().maxQueueSize, 7)
  })

  it('retire-cluster settings shows and changes them', async () => {
    const i = follower()
    const api = ['--api', cluster.clients[i]!.url, '--token-file', join(cluster.dataDirs[i]!, 'api-token')]
    const set = await runCli(['settings', '--max-queue', '900', '--retention', '2h', '--max-retained', '5000', '--quarantine', 'off', '--json', ...api])
    assert.equal(set.code, 0, set.stderr)
    const s = JSON.parse(set.stdout)
    assert.equal(s.maxQueueSize, 900)
    assert.equal(s.retentionMs, 7_200_000)
    assert.equal(s.maxRetainedTasks, 5000)
    assert.deepEqual(s.reliability, { quarantineFailures: 0 })
    const show = await runCli(['settings', ...api])
    assert.equal(show.code, 0, show.stderr)
    assert.match(show.stdout, /retention\s+2h/)
    assert.match(show.stdout, /max queue\s+900/)
    assert.match(show.stdout, /max retained\s+5000 finished tasks/)
    const bad = await runCli(['settings', '--preemption', 'maybe', ...api])
    assert.equal(bad.code, 2, bad.stderr)
    const reset = await runCli(['settings', '--reset', 'maxQueueSize,reliability,maxRetainedTasks', '--json', ...api])
    assert.equal(reset.code, 0, reset.stderr)
    assert.equal(JSON.parse(reset.stdout).maxQueueSize, undefined)
    assert.equal(JSON.parse(reset.stdout).maxRetainedTasks, undefined)
    assert.equal(JSON.parse(reset.stdout).reliability, undefined)
  })
})
