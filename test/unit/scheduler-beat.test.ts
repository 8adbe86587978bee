// src/node/scheduler.ts: intervals of whole seconds share one timer (the beat), so an idle node wakes
// once a second for all of them; others keep a timer of their own.
import assert from 'node:assert/strict'
import { realScheduler } from '../../src/node/scheduler.js'

describe('realScheduler.interval: whole seconds share one beat', function () {
  this.timeout(10_000)

  it('a 1 s and a 2 s interval run in the same turn; a cancelled one runs no more; a 300 ms one has its own timer', async () => {
    const runs: Record<string, number[]> = { one: [], two: [], gone: [], short: [] }
    // the turn a callback runs in: callbacks of one timer run one after the other, before any setImmediate
    let turn = 0
    const mark = (k: string) => () => { runs[k]!.push(turn); setImmediate(() => { turn++ }) }
    const cancels = [realScheduler.interval(mark('one'), 1000), realScheduler.interval(mark('short'), 300)]
    const cancelGone = realScheduler.interval(mark('gone'), 1000)
    // added 300 ms later: on a timer of its own it would run at 2.3 s, on the beat it runs at 2 s
    await new Promise(resolve => setTimeout(resolve, 300))
    cancels.push(realScheduler.interval(mark('two'), 2000))
    await new Promise(resolve => setTimeout(resolve, 900))
    cancelGone()
    await new Promise(resolve => setTimeout(resolve, 1050))
    for (const c of cancels) c()
    assert.equal(runs.one!.length, 2, `1 s: ${runs.one!.length} runs in 2.25 s`)
    assert.equal(runs.two!.length, 1, `2 s, added at 0.3 s: ${runs.two!.length} runs by 2.25 s`)
    assert.equal(runs.gone!.length, 1, 'cancelled after its first run')
    assert.equal(runs.two![0], runs.one![1], 'the 2 s interval ran in the same turn as the 1 s one')
    assert.ok(runs.short!.length >= 5, `300 ms: ${runs.short!.length} runs`)
    // nothing runs after every interval is cancelled
    const before = runs.one!.length + runs.two!.length + runs.short!.length
    await new Promise(resolve => setTimeout(resolve, 1100))
    assert.equal(runs.one!.length + runs.two!.length + runs.short!.length, before)
  })
})
