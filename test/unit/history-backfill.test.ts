// After a restore from a snapshot, history.db gets the rows of the finished tasks the state holds
// (TaskHistory.backfill), exactly the rows applying their events would have written: a node caught
// up by a snapshot, or restarted from its own past rows it never wrote, counts what the others do.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { TaskHistory } from '../../src/node/client/history.js'
import { ClusterState } from '../../src/sched/state-machine.js'
import { TERMINAL_STATUSES } from '../../src/sched/types.js'
import type { Command } from '../../src/sched/commands.js'
import { assign, finished, result, submit, task, T0 } from './state-fixtures.js'

function rows (path: string): unknown[] {
  const db = new Database(path, { readonly: true })
  try { return db.prepare('SELECT * FROM history ORDER BY task_id, attempt').all() } finally { db.close() }
}

describe('task history: backfill after a snapshot restore', () => {
  let dir: string
  before(() => { dir = mkdtempSync(join(tmpdir(), 'rc-history-')) })
  after(() => { rmSync(dir, { recursive: true, force: true }) })

  it('writes the rows the applied events would have, and nothing twice', async () => {
    const cmds: Command[] = [
      submit([task('ok1'), task('ok2'), task('bad', { req: { maxRetries: 0 } }), task('gone'), task('moved'), task('waiting')]),
      assign('ok1', 1, 'd1'), assign('ok2', 1, 'd2'), assign('bad', 1, 'd1'), assign('moved', 1, 'd3'),
      finished(result('ok1', 1, 'd1', 'completed', { result: 1 })),
      finished(result('bad', 1, 'd1', 'failed', { error: { type: 'x', message: 'boom' } })),
      { type: 'cancel', at: T0 + 20, taskId: 'gone', principal: 'alice' },
      { type: 'deviceDown', at: T0 + 30, deviceId: 'd3' }, // 'moved' fails over to a clone: its failure is not a final one
      finished(result('ok2', 1, 'd2', 'completed', { result: 2 }))
    ]
    const now = (): number => T0 + 1000
    const live = new TaskHistory(join(dir, 'live.db'), () => new Map(), { now })
    const st = new ClusterState()
    cmds.forEach((c, i) => { for (const e of st.apply(c, i + 2).events) live.onApplied(e, id => st.getTask(id)) })
    live.flush()
    const restored = new TaskHistory(join(dir, 'restored.db'), () => new Map(), { now })
    const fromState = ClusterState.restore(JSON.parse(JSON.stringify(st.snapshot())))
    const all = [...TERMINAL_STATUSES].flatMap(status => fromState.listTasks({ status }))
    assert.equal(await restored.backfill(all), 4)
    assert.deepEqual(rows(join(dir, 'restored.db')), rows(join(dir, 'live.db')))
    assert.equal((rows(join(dir, 'live.db')) as Array<{ task_id: string }>).map(r => r.task_id).join(), 'bad,gone,ok1,ok2')
    assert.equal(await live.backfill(all), 0, 'rows already written stay as they are')
    // rows past the history's retention are not written back
    const late = new TaskHistory(join(dir, 'late.db'), () => new Map(), { now: () => T0 + 26 * 3_600_000 })
    assert.equal(await late.backfill(all), 0)
    live.close(); restored.close(); late.close()
  })

  it('writes a slice a turn and stops once the history is closed', async () => {
    const cmds: Command[] = [submit(Array.from({ length: 10 }, (_, i) => task(`s${i}`)))]
    for (let i = 0; i < 10; i++) cmds.push(assign(`s${i}`, 1, 'd1'), finished(result(`s${i}`, 1, 'd1', 'completed', { result: i })))
    const st = new ClusterState()
    cmds.forEach((c, i) => st.apply(c, i + 2))
    const all = st.listTasks({ status: 'completed' })
    const now = (): number => T0 + 1000
    const h = new TaskHistory(join(dir, 'sliced.db'), () => new Map(), { now })
    const turns: Array<() => void> = []
    const done = h.backfill(all, 3, fn => { turns.push(fn) })
    const seen: number[] = [rows(join(dir, 'sliced.db')).length]
    while (turns.length > 0) { turns.shift()!(); await new Promise(resolve => setImmediate(resolve)); seen.push(rows(join(dir, 'sliced.db')).length) }
    assert.equal(await done, 10)
    assert.deepEqual(seen, [3, 6, 9, 10], 'three rows a turn')
    h.close()
    const stopping = new TaskHistory(join(dir, 'stopping.db'), () => new Map(), { now })
    const cut = stopping.backfill(all, 3, fn => { turns.push(fn) })
    stopping.close() // a node stopping in the middle: the first slice only, and no error
    while (turns.length > 0) turns.shift()!()
    assert.equal(await cut, 3)
    assert.equal(rows(join(dir, 'stopping.db')).length, 3)
  })
})
