// FifoSet (src/sched/fifo-set.ts): the evicted-id tombstones' FIFO, in place of a Set's values().next().
import assert from 'node:assert/strict'
import { FifoSet } from '../../src/sched/fifo-set.js'

describe('FifoSet', () => {
  it('keeps insertion order like a Set, re-adding keeps the place, shift drops the oldest', () => {
    const f = new FifoSet()
    for (const id of ['a', 'b', 'c', 'b']) f.add(id)
    assert.deepEqual([...f], ['a', 'b', 'c'])
    assert.equal(f.shift(), 'a')
    assert.equal(f.has('a'), false)
    assert.equal(f.has('b'), true)
    f.add('a')
    assert.deepEqual([...f], ['b', 'c', 'a'])
    assert.equal(f.size, 3)
    assert.equal(new FifoSet().shift(), undefined)
  })

  it('matches a Set used as a FIFO over many adds and shifts, and a shift at the cap stays cheap', () => {
    const f = new FifoSet()
    const s = new Set<string>()
    for (let i = 0; i < 150_000; i++) {
      const id = `t${i % 120_000}` // some re-adds
      f.add(id); s.add(id)
      if (s.size > 100_000) { const o = s.values().next().value as string; s.delete(o); assert.equal(f.shift(), o) }
    }
    assert.deepEqual([...f], [...s])
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < 50_000; i++) { f.add(`x${i}`); f.shift() }
    assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 1000)
  })
})
