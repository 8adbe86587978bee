// A custom handler registered on one node only: the node advertises the type, the scheduler sends
// those tasks only there, and the others never see them (issue 5).
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { startLocalCluster, waitForBids, type LocalCluster } from '../helpers/local-cluster.js'
import { eventually } from '../helpers/eventually.js'

const fib = fileURLToPath(new URL('../fixtures/handlers/fibonacci.ts', import.meta.url))

describe('mesh: a custom handler on one node', function () {
  this.timeout(120_000)
  let c: LocalCluster
  before(async () => {
    c = await startLocalCluster(3, i => (i === 1 ? { handlers: [fib] } : {}))
    await waitForBids(c.nodes)
  })
  after(async () => { await c?.stop() })

  it('only the node that registered fibonacci advertises it and runs its tasks', async () => {
    const withFib = c.nodes[1]!
    await eventually(async () => {
      const nodes = await c.nodes[0]!.nodes()
      return nodes.filter(n => n.taskTypes.includes('fibonacci')).map(n => n.id).join() === withFib.id
    }, { timeoutMs: 10_000, message: 'advertised by n2 only' })
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => c.nodes[0]!.scheduler.submitTask({ task_type: 'fibonacci', payload: { n: 15 + i } })))
    for (const [i, id] of ids.entries()) {
      const rec = await c.nodes[0]!.scheduler.waitForResult(id, { timeoutMs: 60_000 })
      assert.equal(rec.status, 'completed', JSON.stringify(rec.error))
      assert.equal(rec.deviceId, withFib.id)
      assert.deepEqual(rec.result, { input: 15 + i, result: fibSeq(15 + i), algorithm: 'recursive' })
    }
  })
})

function fibSeq (n: number): number { let a = 0; let b = 1; for (let i = 0; i < n; i++) [a, b] = [b, a + b]; return a }
