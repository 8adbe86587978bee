// PrefetchEstimates: which task types may wait in a worker's queue behind others (short ones), and
// how deep. A type is short only while its average AND its longest recent run are below the line.
import assert from 'node:assert/strict'
import { PrefetchEstimates } from '../../src/node/leader/prefetch.js'
import { task } from './state-fixtures.js'

const ofType = (taskType: string): ReturnType<typeof task> => ({ ...task(`t-${taskType}`), taskType })

describe('leader prefetch estimates', () => {
  it('an unknown type is never short; a fast one is after its first run', () => {
    const p = new PrefetchEstimates()
    assert.equal(p.isShort(ofType('echo')), false)
    p.observe('echo', 1)
    assert.equal(p.isShort(ofType('echo')), true)
  })

  it('a type with one long run among short ones is not short, whatever its average (soak seed 47)', () => {
    const p = new PrefetchEstimates()
    p.observe('sleep', 60) // the first run a new leader saw
    assert.equal(p.isShort(ofType('sleep')), true)
    p.observe('sleep', 3400)
    for (let i = 0; i < 20; i++) p.observe('sleep', 80) // the average falls back under the line quickly
    assert.ok(p.estimateMs('sleep')! < 250 * 4)
    assert.equal(p.isShort(ofType('sleep')), false, 'a 3.4 s run keeps it out of the prefetch queues')
  })

  it('a single slow outlier is forgotten after enough fast runs', () => {
    const p = new PrefetchEstimates()
    p.observe('resize', 300) // a cold start
    assert.equal(p.isShort(ofType('resize')), false)
    for (let i = 0; i < 40; i++) p.observe('resize', 5)
    assert.equal(p.isShort(ofType('resize')), true)
  })

  it('long types do not make the prefetch of short ones shallower', () => {
    const a = new PrefetchEstimates()
    const b = new PrefetchEstimates()
    for (const p of [a, b]) {
      for (let i = 0; i < 200; i++) p.observe('echo', 0.5)
      p.observe('sleep', 60) // looked short when it came
    }
    b.observe('sleep', 3000)
    for (let i = 0; i < 50; i++) b.observe('sleep', 120) // short on average, long at its peak
    assert.equal(b.multiplier, a.multiplier)
  })
})
