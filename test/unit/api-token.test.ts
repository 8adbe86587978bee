// TokenChecker (src/node/api/auth.ts): the node's bearer token, compared in constant time.
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { TokenChecker } from '../../src/node/api/auth.js'

const TOKEN = 'a'.repeat(24) + '0123456789abcdef01234567'
const req = (authorization?: string): IncomingMessage => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage

describe('TokenChecker', () => {
  const t = new TokenChecker(TOKEN)
  it('takes the token, in the header or (when asked) in ?token=', () => {
    assert.equal(t.matches(req(`Bearer ${TOKEN}`)), true)
    assert.equal(t.matches(req(`Bearer  ${TOKEN} `)), true)
    assert.equal(t.matches(req(), new URLSearchParams({ token: TOKEN })), true)
  })
  it('refuses a wrong token of the same length, a prefix, a longer one, none, and other schemes', () => {
    assert.equal(t.matches(req(`Bearer ${TOKEN.slice(0, -1)}8`)), false)
    assert.equal(t.matches(req(`Bearer ${TOKEN.slice(0, -1)}`)), false)
    assert.equal(t.matches(req(`Bearer ${TOKEN}x`)), false)
    assert.equal(t.matches(req('Bearer ')), false)
    assert.equal(t.matches(req()), false)
    assert.equal(t.matches(req(`Basic ${TOKEN}`)), false)
    assert.equal(t.matches(req(), new URLSearchParams({ token: '' })), false)
    assert.equal(t.matches(req(`Bearer ${'é'.repeat(24)}`)), false, 'same character count, other bytes')
  })
  it('refuses to be built on a short token', () => {
    assert.throws(() => new TokenChecker('short'), /at least 16/)
  })
})
