// The code shown in README.md and docs/ lives in examples/*.ts. This test keeps it honest:
// every example type-checks against the real public API (src/index.ts), the pure ones run, and a
// few run end to end against a real single node (temp data dir, loopback, no mDNS, no HTTP API).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiClient, Task, type TaskRecord } from '../../src/index.js'
import { startDemoNode } from '../../examples/_node.js'
import { customHandler } from '../../examples/custom-handler.js'
import { batch } from '../../examples/batches.js'
import { retryPolicy, backoffDelays } from '../../examples/retries-failover.js'
import { scoring } from '../../examples/requirements-scoring.js'
import { taskQueue } from '../../examples/task-queue.js'
import { instantiateMl } from '../../examples/templates.js'
import { sandboxConfig } from '../../examples/sandbox-permissions.js'
import { echoOverHttp, squaresOverHttp } from '../../examples/api-client.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

/** tsc --noEmit over examples/ (its tsconfig extends the project's: strict, NodeNext). */
function typeCheckExamples (): Promise<{ code: number, output: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [tsc, '--noEmit', '-p', join(root, 'examples', 'tsconfig.json')], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), output: stdout + stderr })
    })
  })
}

describe('examples (the code in README.md and docs/)', function () {
  this.timeout(60_000)
  // started first so it overlaps with the node tests below (the whole file stays well under 30 s)
  let typeCheck: Promise<{ code: number, output: string }>
  const quiet = console.log
  const savedIdGenerator = Task.idGenerator

  before(() => {
    typeCheck = typeCheckExamples()
    console.log = () => {}
  })
  after(() => {
    console.log = quiet
    Task.idGenerator = savedIdGenerator
  })

  describe('pure examples run', () => {
    it('requirements-scoring: the idle laptop ranks first, the phone is filtered out', () => {
      const ranked = scoring()
      assert.deepEqual(ranked.map(r => r.name), ['old-laptop', 'busy-desktop'])
      assert.ok(ranked[0]!.score > ranked[1]!.score)
    })

    it('task-queue: HIGH before NORMAL before BACKGROUND; statistics by priority name', () => {
      const { order, stats } = taskQueue()
      assert.deepEqual(order, ['alert', 'resize', 'report'])
      assert.equal(stats.size, 3)
      assert.deepEqual(stats.byPriority, { URGENT: 0, HIGH: 1, NORMAL: 1, LOW: 0, BACKGROUND: 1 })
      assert.equal(stats.avgWaitTimeSeconds, 5)
    })

    it('retries: exponential backoff with 10 % jitter stays in [0.9 d, d]', () => {
      const [a, b, c] = backoffDelays()
      for (const [got, d] of [[a!, 2], [b!, 4], [c!, 8]] as const) assert.ok(got <= d && got >= 0.9 * d, `${got} vs ${d}`)
      assert.equal(retryPolicy.shouldRetry('invalid_payload', 0), false)
    })

    it('templates: the seed ML template instantiates with typed values and a dependency chain', () => {
      const wf = instantiateMl()
      assert.deepEqual(wf.steps.map(s => [s.name, s.dependsOn]), [['preprocess', []], ['train', ['preprocess']]])
      assert.deepEqual((wf.steps[1]!.task.payload as { hyperparameters: unknown }).hyperparameters, { n_estimators: 100 })
      assert.equal(wf.steps[1]!.task.requirements.requiresGpu, true)
    })

    it('sandbox: the seed sizes parse to bytes', () => {
      assert.equal(sandboxConfig.memoryLimitBytes, 2 * 1024 ** 3)
      assert.equal(sandboxConfig.maxFileSizeBytes, 100 * 1024 ** 2)
      assert.equal(sandboxConfig.allowNetwork, false)
    })
  })

  describe('against a real single node', () => {
    let node: Awaited<ReturnType<typeof startDemoNode>>
    before(async () => { node = await startDemoNode({ logLevel: 'silent' }) })
    after(async () => { await node?.stopAndClean() })

    it('custom-handler: fibonacci(20) = 6765 through the cluster', async () => {
      assert.equal(await customHandler(node), 6765)
    })

    it('fibonacci-handler: a bad payload fails at once as invalid_payload, not retried', async () => {
      const id = await node.scheduler.submitTask({ task_type: 'fibonacci', payload: { n: 99 } })
      const rec: TaskRecord = await node.scheduler.waitForResult(id, { timeoutMs: 15_000 })
      assert.equal(rec.status, 'failed')
      assert.equal(rec.error?.type, 'invalid_payload')
      assert.match(rec.error?.message ?? '', /payload\.n/)
      assert.equal(rec.attempts.length, 1)
    })

    it('batches: a 10-task batch completes and its progress says so', async () => {
      assert.deepEqual(await batch(node, 10), { completed: 10, total: 10 })
    })
  })

  describe('against a real node over its HTTP API', () => {
    let node: Awaited<ReturnType<typeof startDemoNode>>
    before(async () => { node = await startDemoNode({ logLevel: 'silent', api: { host: '127.0.0.1', port: 0 } }) })
    after(async () => { await node?.stopAndClean() })

    it('api-client: ApiClient.fromDataDir finds the node and an echo comes back', async () => {
      const client = await ApiClient.fromDataDir(node.dataDir)
      try {
        assert.deepEqual(await echoOverHttp(client, 'hi'), { message: 'hi' })
        assert.deepEqual(await squaresOverHttp(client, 4), [{ square: 0 }, { square: 1 }, { square: 4 }, { square: 9 }])
      } finally { client.close() }
    })
  })

  // last: mocha runs a suite's own tests before its child suites, so this sits in a suite of its own
  describe('types', () => {
    it('every example type-checks (tsc --noEmit -p examples/tsconfig.json)', async () => {
      const { code, output } = await typeCheck
      assert.equal(code, 0, output)
    })
  })
})
