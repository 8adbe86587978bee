// A leader stopped while the first step of the seed's ML workflow runs: the workflow still finishes
// on the surviving nodes, and each step ran exactly once (the fixture handlers append one line per
// execution to RC_WF_LOG). Workflow state is replicated, so the new leader knows step 2 waits for
// step 1 and unblocks it when step 1's result (resent by its worker) commits.
//
// Both steps exclude the leader's device: a WORKER dying mid-step is a different story (its task is
// failed over and re-run elsewhere by design); here only the leader goes away.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalCluster, waitForAgreedLeader, waitForBids, type LocalCluster } from '../helpers/local-cluster.js'
import { eventually } from '../helpers/eventually.js'
import { TaskTemplate } from '../../src/sched/template.js'
import { SEED_ML_TEMPLATE, SEED_ML_VARS, WF_HANDLERS } from '../fixtures/workflow/ml-template.js'

interface Run { taskType: string, taskId: string, attempt: number }
function runs (file: string): Run[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Run)
}

describe('workflows: leader stopped mid-workflow (3 real nodes)', function () {
  this.timeout(120_000)
  let c: LocalCluster
  let dir: string
  const saved = { log: process.env.RC_WF_LOG, ms: process.env.RC_WF_STEP_MS }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rc-wf-'))
    process.env.RC_WF_LOG = join(dir, 'runs.jsonl')
    process.env.RC_WF_STEP_MS = '2000'
    c = await startLocalCluster(3, () => ({
      handlers: [WF_HANDLERS],
      deviceTimeoutMs: 2000,
      capabilities: { gpu: true, cpuCores: 4, memoryGb: 16 }
    }))
    await waitForBids(c.nodes)
  })
  after(async () => {
    await c?.stop()
    rmSync(dir, { recursive: true, force: true })
    for (const [k, v] of [['RC_WF_LOG', saved.log], ['RC_WF_STEP_MS', saved.ms]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v
    }
  })

  it('finishes the workflow with each step run once', async () => {
    const log = process.env.RC_WF_LOG!
    const leader = c.leader()
    const workflow = new TaskTemplate(SEED_ML_TEMPLATE as never).instantiate(SEED_ML_VARS)
    for (const s of workflow.steps) s.task.requirements.excludeDevices = [leader.id]
    const submitter = c.followers()[0]!
    const { id, taskIds } = await submitter.scheduler.submitWorkflow(workflow)

    // step 1 is running on a follower: stop the leader now
    await eventually(async () => (await submitter.scheduler.getTaskStatus(taskIds[0]!))?.status === 'running', { timeoutMs: 10_000, message: 'step 1 running' })
    assert.equal(runs(log).length, 1)
    const oldTerm = leader.raftStatus().term
    await leader.stop()
    const survivors = c.nodes.filter(n => n !== leader)
    const newLeader = await waitForAgreedLeader(survivors, 20_000)
    assert.notEqual(newLeader.id, leader.id)
    assert.ok(newLeader.raftStatus().term > oldTerm)

    const s = survivors[0]!.scheduler
    const train = await s.waitForResult(taskIds[1]!, { timeoutMs: 60_000 })
    assert.equal(train.status, 'completed', JSON.stringify(train.error))
    assert.deepEqual((train.result as { hyperparameters: unknown }).hyperparameters, { n_estimators: 100 })
    const st = await s.getWorkflowStatus(id)
    assert.equal(st.status, 'completed')
    // each step executed once, in order, and no attempt was retried or failed over
    assert.deepEqual(runs(log).map(r => [r.taskType, r.taskId, r.attempt]), [
      ['data_preprocessing', taskIds[0], 1],
      ['model_training', taskIds[1], 1]
    ])
    for (const tid of taskIds) {
      const rec = (await s.getTaskStatus(tid))!
      assert.equal(rec.attempts.length, 1, `${tid} ran one attempt`)
      assert.equal(rec.replacedBy, undefined)
    }
    // both survivors agree
    for (const n of survivors) {
      await eventually(async () => (await n.scheduler.getWorkflowStatus(id)).status === 'completed', { timeoutMs: 10_000, message: `workflow completed on ${n.name}` })
    }
  })
})
