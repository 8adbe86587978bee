// The leader PROCESS is killed (SIGKILL) while step 1 of a 2-step workflow runs on another node:
// real node processes started through the CLI (scripts/lib/proc-cluster.ts, needs `npx tsc -p
// tsconfig.json` first: it runs dist/). The workflow still finishes on the survivors, each step
// executed exactly once (test/fixtures/workflow/proc-handlers.js logs every execution), and step
// 2 received step 1's result. The steps exclude the leader's device: a killed WORKER's step is
// failed over and re-run by design, which is not what this test is about.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startProcCluster, waitForLeader, type NodeProc } from '../../scripts/lib/proc-cluster.js'
import { eventually } from '../helpers/eventually.js'

const here = dirname(fileURLToPath(import.meta.url))
const HANDLERS = join(here, '../fixtures/workflow/proc-handlers.js')
const DIST_CLI = join(here, '../../dist/src/node/cli/main.js')

interface Run { taskId: string, attempt: number, tag: string }

describe('workflows: leader process killed mid-workflow (3 node processes)', function () {
  this.timeout(120_000)
  let procs: NodeProc[] = []
  let dir: string
  const savedLog = process.env.RC_WF_LOG

  before(function () {
    if (!existsSync(DIST_CLI)) this.skip() // not built: `npx tsc -p tsconfig.json`
  })
  after(async () => {
    await Promise.all(procs.map(async p => { await p.stop().catch(() => {}) }))
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    if (savedLog === undefined) delete process.env.RC_WF_LOG; else process.env.RC_WF_LOG = savedLog
  })

  it('finishes the workflow on the survivors with each step run once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rc-wfp-'))
    const log = join(dir, 'runs.jsonl')
    process.env.RC_WF_LOG = log // node processes inherit it
    procs = await startProcCluster({ nodes: 3, baseDir: join(dir, 'nodes'), extraArgs: () => ['--handlers', HANDLERS, '--device-timeout-ms', '2000'] })
    const leader = await waitForLeader(procs)
    const follower = procs.find(p => p !== leader)!
    const req = { exclude_devices: [leader.peerId] }
    const res = await follower.api<{ id: string, taskIds: string[] }>('POST', '/v1/workflows', {
      name: 'two steps',
      steps: [
        { name: 'prep', task: { task_type: 'slow_step', payload: { ms: 3000, tag: 'prep' }, requirements: req }, dependsOn: [] },
        { name: 'train', task: { task_type: 'slow_step', payload: { ms: 200, tag: 'train', input: '{{prev.result.tag}}' }, requirements: req }, dependsOn: ['prep'] }
      ]
    })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    const { id, taskIds } = res.body
    await eventually(async () => (await follower.api<{ status: string }>('GET', `/v1/tasks/${taskIds[0]}`)).body.status === 'running', { timeoutMs: 15_000, message: 'step 1 running' })

    await leader.kill9()
    const survivors = procs.filter(p => p !== leader)
    const next = await waitForLeader(survivors, 30_000)
    assert.notEqual(next.peerId, leader.peerId)

    const wf = await eventually(async () => {
      const r = await follower.api<{ status: string, steps: Array<{ status: string }> }>('GET', `/v1/workflows/${id}`, undefined, 3000)
      return r.body.status === 'completed' ? r.body : false
    }, { timeoutMs: 60_000, intervalMs: 200, message: 'workflow completed' })
    assert.deepEqual(wf.steps.map(s => s.status), ['completed', 'completed'])
    const train = (await follower.api<{ result: { input: unknown }, attempts: unknown[] }>('GET', `/v1/tasks/${taskIds[1]}`)).body
    assert.equal(train.result.input, 'prep', 'step 2 got step 1\'s result')
    const runs = readFileSync(log, 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Run)
    assert.deepEqual(runs.map(r => [r.tag, r.taskId, r.attempt]), [['prep', taskIds[0], 1], ['train', taskIds[1], 1]], 'each step ran once')
  })
})
