import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { hashSeed, mulberry32 } from '../../src/sched/rng.js'
import { isValidTaskId, monotonicTaskIds, newTaskId, TASK_ID_LENGTH, taskIdTimeMs } from '../../src/sched/ids.js'

describe('sched rng', () => {
  it('mulberry32 is deterministic per seed and in [0, 1)', () => {
    const a = mulberry32(42); const b = mulberry32(42); const c = mulberry32(43)
    const xs = Array.from({ length: 1000 }, () => a())
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()))
    assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => c()))
    for (const x of xs) assert.ok(x >= 0 && x < 1)
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`)
  })

  it('hashSeed is a stable 32-bit hash', () => {
    assert.equal(hashSeed(''), 0x811c9dc5)
    assert.equal(hashSeed('task:1'), hashSeed('task:1'))
    assert.notEqual(hashSeed('task:1'), hashSeed('task:2'))
    for (const s of ['a', 'hello', '01HF7YAT00M0GZY8KQDZEF4C74:3']) {
      const h = hashSeed(s)
      assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32)
    }
  })
})

describe('sched ids', () => {
  it('makes 26-char Crockford base32 ids that encode the time', () => {
    const rng = mulberry32(1)
    const id = newTaskId(1_700_000_000_123, rng)
    assert.equal(id.length, TASK_ID_LENGTH)
    assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/)
    assert.ok(isValidTaskId(id))
    assert.equal(taskIdTimeMs(id), 1_700_000_000_123)
    assert.equal(taskIdTimeMs(newTaskId(0, rng)), 0)
  })

  it('ids sort by time as strings', () => {
    const rng = mulberry32(7)
    const times = Array.from({ length: 500 }, () => Math.floor(rng() * 2 ** 47))
    const ids = times.map(t => newTaskId(t, rng))
    const byId = [...ids].sort()
    const byTime = [...ids].sort((a, b) => taskIdTimeMs(a) - taskIdTimeMs(b))
    assert.deepEqual(byId.map(taskIdTimeMs), byTime.map(taskIdTimeMs))
  })

  it('rejects times outside [0, 2^48)', () => {
    assert.throws(() => newTaskId(-1, mulberry32(1)), RangeError)
    assert.throws(() => newTaskId(2 ** 48, mulberry32(1)), RangeError)
  })

  it('isValidTaskId rejects malformed ids', () => {
    for (const bad of ['', 'abc', '01HF7YAT00M0GZY8KQDZEF4C7', '01HF7YAT00M0GZY8KQDZEF4C7I', '81HF7YAT00M0GZY8KQDZEF4C74',
      '01hf7yat00m0gzy8kqdzef4c74', 42, null, undefined, {}]) {
      assert.equal(isValidTaskId(bad), false, String(bad))
    }
  })

  it('monotonic generator: strictly increasing within one ms and when the clock steps back', () => {
    let now = 1_000
    const next = monotonicTaskIds(() => now, mulberry32(3))
    const ids: string[] = []
    for (let i = 0; i < 2000; i++) {
      if (i === 1000) now = 500 // clock stepped back
      if (i === 1500) now = 2_000
      ids.push(next())
    }
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `id ${i} not increasing`)
    assert.equal(new Set(ids).size, ids.length)
    assert.equal(taskIdTimeMs(ids[1200]), 1_000) // kept the last time rather than going back
    assert.equal(taskIdTimeMs(ids[1999]), 2_000)
  })

  it('monotonic generator carries into the next ms when the random part overflows', () => {
    // an rng that always returns ~1 makes the random part all Z: the next id must still increase
    const next = monotonicTaskIds(() => 5, () => 0.99999999)
    const a = next(); const b = next()
    assert.ok(a < b)
    assert.equal(taskIdTimeMs(b), 6)
  })
})
