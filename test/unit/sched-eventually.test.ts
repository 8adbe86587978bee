import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { eventually } from '../helpers/eventually.js'

describe('test helper eventually', () => {
  it('resolves with the value once the condition holds', async () => {
    let n = 0
    const v = await eventually(() => { n++; if (n < 3) throw new Error('not yet'); return n }, { timeoutMs: 1000, intervalMs: 1 })
    assert.equal(v, 3)
  })

  it('treats false as "not yet" and fails after timeoutMs with the last reason', async () => {
    const t0 = Date.now()
    await assert.rejects(eventually(() => false, { timeoutMs: 60, intervalMs: 5, message: 'never' }), /never: not true after 60 ms.*returned false/)
    assert.ok(Date.now() - t0 < 1000)
    await assert.rejects(eventually(async () => { throw new Error('boom') }, { timeoutMs: 30, intervalMs: 5 }), /boom/)
  })
})
