// While the core holds entries back (a snapshot being encoded), its state is behind the log: the
// leader places nothing on it — neither with a submission nor in its pass — and places the work once
// the held entries are applied. A real ClusterCore and LeaderLoop; slices run when the test says.
import assert from 'node:assert/strict'
import { bid, task } from './state-fixtures.js'
import { LeaderHarness, turn } from './leader-harness.js'

describe('leader: no placement while the core holds entries for a snapshot', () => {
  it('a submission made meanwhile goes unplaced, nothing is assigned from the stale state, and it is placed once the held entries apply', async () => {
    const slices: Array<() => void> = []
    const h = new LeaderHarness([bid('n1', { maxConcurrentTasks: 4 })], undefined, { nextSlice: fn => { slices.push(fn) } })
    try {
      await h.start()
      const snap = h.core.snapshotInSlices()
      assert.equal(h.core.holding, true)
      h.submit([task('b')])
      await turn()
      assert.deepEqual(h.take().map(e => e.map(c => c.type)), [['submit']], 'not placed with its submission')
      h.commit() // committed, and held: the state does not have it yet
      assert.equal(h.core.state.getTask('b'), undefined)
      h.entries.length = 0
      await new Promise(resolve => setTimeout(resolve, 250)) // the leader's passes (100 ms) run meanwhile
      assert.equal(h.entries.length, 0, 'no assignment while the state is behind')
      while (slices.length > 0) slices.shift()!() // the snapshot is encoded, then the held entry applied
      await snap
      assert.equal(h.core.holding, false)
      assert.equal(h.core.state.getTask('b')?.status, 'pending')
      await turn()
      await new Promise(resolve => setTimeout(resolve, 150))
      const cmds = h.take().flat()
      assert.deepEqual(cmds.filter(c => c.type === 'assign').flatMap(c => c.type === 'assign' ? c.assignments.map(a => a.taskId) : []), ['b'])
    } finally { h.close() }
  })

  it('a task waiting in the queue is not placed by the pass while entries are held', async () => {
    const slices: Array<() => void> = []
    const h = new LeaderHarness([bid('n1', { maxConcurrentTasks: 4 })], undefined, { nextSlice: fn => { slices.push(fn) } })
    try {
      await h.start()
      h.submit([{ ...task('c'), taskType: 'render' }]) // no device runs 'render' yet
      await turn()
      h.commit()
      await turn()
      h.entries.length = 0
      const snap = h.core.snapshotInSlices()
      h.bids[0] = bid('n1', { maxConcurrentTasks: 4, taskTypes: ['echo', 'render'] })
      await new Promise(resolve => setTimeout(resolve, 250))
      assert.equal(h.entries.length, 0, 'not placed from a state behind the log')
      while (slices.length > 0) slices.shift()!()
      await snap
      await new Promise(resolve => setTimeout(resolve, 250))
      assert.deepEqual(h.take().flat().flatMap(c => c.type === 'assign' ? c.assignments.map(a => a.taskId) : []), ['c'])
    } finally { h.close() }
  })
})
