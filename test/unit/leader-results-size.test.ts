// The results of several workers reported in one turn go into log entries that fit: one `finished`
// command is one entry and cannot be split, so before, two workers' ~1 MB results in the same turn
// made a command over the entry cap, refused on every resend — neither result ever committed.
import assert from 'node:assert/strict'
import { bid, task } from './state-fixtures.js'
import { LeaderHarness, turn } from './leader-harness.js'
import { MAX_ENTRY_DATA_BYTES } from '../../src/protocol/limits.js'

describe('leader: the results of one turn in entries that fit', () => {
  it('two workers\' 900 KB results in one turn commit, each in a command of its own', async () => {
    const h = new LeaderHarness([bid('n1', { maxConcurrentTasks: 1 }), bid('n2', { maxConcurrentTasks: 1 })])
    try {
      await h.start()
      h.submit([task('a'), task('b')])
      await turn()
      h.commit()
      await turn()
      const placed = new Map(['a', 'b'].map(id => [id, h.core.state.getTask(id)!.deviceId!]))
      assert.equal(new Set(placed.values()).size, 2, 'one task on each device')
      const now = Date.now()
      const big = (id: string): any => ({ taskId: id, attempt: 1, deviceId: placed.get(id)!, status: 'completed', result: 'r'.repeat(900_000), startedAt: now, finishedAt: now })
      const acks = [h.leader.handleResults(placed.get('a')!, [big('a')]), h.leader.handleResults(placed.get('b')!, [big('b')])]
      await turn()
      await turn()
      for (const e of h.entries) assert.ok(e.byteLength <= MAX_ENTRY_DATA_BYTES)
      const finished = h.take().flat().filter(c => c.type === 'finished')
      assert.equal(finished.length, 2)
      h.commit()
      assert.deepEqual((await Promise.all(acks)).flat().sort(), ['a:1', 'b:1'])
      assert.equal(h.core.state.getTask('a')!.status, 'completed')
      assert.equal(h.core.state.getTask('b')!.status, 'completed')
    } finally { h.close() }
  })
})
