// Importing the package installs a real id source (src/node/task-ids.ts): `new Task(...)`,
// `new TaskBatch(...)` and a chain's workflow id (src/sched/chain.ts) work in a fresh process with no node, ids
// increase within a process, and two processes making ids at the same time never collide.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isValidTaskId } from '../../src/sched/ids.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const N = 20_000

/** A fresh Node process (tsx) that imports only the package entry, with no node started. */
function child (): Promise<{ ids: string[], batch: string, chain: string }> {
  const script = `
    import { Task, TaskBatch } from ${JSON.stringify(join(root, 'src/index.ts'))}
    import { TaskChain } from ${JSON.stringify(join(root, 'src/sched/chain.ts'))}
    const ids = []
    for (let i = 0; i < ${N}; i++) ids.push(new Task({ taskType: 'echo' }).id)
    const batch = new TaskBatch({ name: 'b' }).id
    const chain = new TaskChain([new Task({ taskType: 'echo' })]).toWorkflow().id
    process.stdout.write(JSON.stringify({ ids, batch, chain }))
  `
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${err.message}\n${stderr}`))
      else resolve(JSON.parse(stdout))
    })
  })
}

describe('default task ids (no node)', function () {
  this.timeout(90_000)

  it('two processes: valid, strictly increasing ids, none shared; batch and chain ids too', async () => {
    const [a, b] = await Promise.all([child(), child()])
    for (const r of [a, b]) {
      assert.equal(r.ids.length, N)
      assert.ok(r.ids.every(isValidTaskId))
      for (let i = 1; i < r.ids.length; i++) assert.ok(r.ids[i - 1]! < r.ids[i]!, `not increasing at ${i}`)
      assert.ok(isValidTaskId(r.batch) && isValidTaskId(r.chain))
    }
    const all = new Set([...a.ids, ...b.ids, a.batch, a.chain, b.batch, b.chain])
    assert.equal(all.size, 2 * N + 4)
  })
})
