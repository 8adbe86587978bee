import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { InvalidOptionError } from '../../src/sched/errors.js'
import { DEFAULT_RETRY_POLICY, RetryPolicy } from '../../src/sched/retry.js'
import { hashSeed, mulberry32 } from '../../src/sched/rng.js'

const noRng = (): number => { throw new Error('rng must not be called without jitter') }

describe('sched RetryPolicy', () => {
  it('defaults are the seed policy', () => {
    assert.deepEqual(DEFAULT_RETRY_POLICY.toJSON(), {
      maxRetries: 3, backoffStrategy: 'exponential', baseDelay: 2, maxDelay: 60, jitter: 0,
      retryableErrors: ['network_error', 'timeout_error', 'resource_exhausted']
    })
  })

  it('shouldRetry: retryable classes only, fewer than maxRetries so far', () => {
    const p = new RetryPolicy()
    for (const t of ['network_error', 'timeout_error', 'resource_exhausted']) {
      assert.equal(p.shouldRetry(t, 0), true)
      assert.equal(p.shouldRetry(t, 2), true)
      assert.equal(p.shouldRetry(t, 3), false)
    }
    for (const t of ['invalid_payload', 'permission_denied', 'unsupported_operation', 'execution_error', 'whatever']) {
      assert.equal(p.shouldRetry(t, 0), false, t)
    }
    assert.equal(p.shouldRetry('network_error', 3, 5), true) // per-task max_retries wins when given
    assert.equal(p.shouldRetry('network_error', 0, 0), false)
  })

  it('fixed, linear and exponential delays, capped at maxDelay', () => {
    const fixed = new RetryPolicy({ backoffStrategy: 'fixed', baseDelay: 2, maxDelay: 60 })
    const linear = new RetryPolicy({ backoffStrategy: 'linear', baseDelay: 2, maxDelay: 7 })
    const exp = new RetryPolicy({ backoffStrategy: 'exponential', baseDelay: 2, maxDelay: 60 })
    assert.deepEqual([0, 1, 2, 3, 10].map(n => fixed.nextDelay(n, noRng)), [2, 2, 2, 2, 2])
    assert.deepEqual([0, 1, 2, 3, 10].map(n => linear.nextDelay(n, noRng)), [2, 4, 6, 7, 7])
    assert.deepEqual([0, 1, 2, 3, 4, 5, 100, 5000].map(n => exp.nextDelay(n, noRng)), [2, 4, 8, 16, 32, 60, 60, 60])
    assert.equal(exp.nextDelay(-3), 2)
  })

  it('jitter stays within [d * (1 - jitter), d] and is reproducible from a seed', () => {
    const p = new RetryPolicy({ jitter: 0.3, baseDelay: 1, maxDelay: 30 })
    const rng = mulberry32(11)
    let lo = Infinity; let hi = -Infinity
    for (let i = 0; i < 5000; i++) {
      const n = i % 8
      const d = Math.min(30, 2 ** n)
      const x = p.nextDelay(n, rng)
      assert.ok(x >= d * 0.7 - 1e-9 && x <= d, `retry ${n}: ${x}`)
      lo = Math.min(lo, x / d); hi = Math.max(hi, x / d)
    }
    assert.ok(lo < 0.71 && hi > 0.99, `jitter spread ${lo}..${hi}`) // it actually varies across the range
    const seed = hashSeed('01HF7YAT00M0GZY8KQDZEF4C74:2')
    assert.equal(p.nextDelay(2, mulberry32(seed)), p.nextDelay(2, mulberry32(seed)))
    assert.throws(() => p.nextDelay(1), InvalidOptionError) // jitter needs an rng
  })

  it('accepts snake_case options', () => {
    const p = new RetryPolicy({ max_retries: 5, backoff_strategy: 'linear', base_delay: 1.5, max_delay: 10, retryable_errors: ['network_error'] })
    assert.deepEqual(p.toJSON(), { maxRetries: 5, backoffStrategy: 'linear', baseDelay: 1.5, maxDelay: 10, jitter: 0, retryableErrors: ['network_error'] })
    assert.equal(p.shouldRetry('timeout_error', 0), false)
  })

  it('rejects bad options naming the field', () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ maxRetries: -1 }, 'maxRetries'], [{ maxRetries: 1.5 }, 'maxRetries'], [{ backoffStrategy: 'random' }, 'backoffStrategy'],
      [{ baseDelay: -2 }, 'baseDelay'], [{ maxDelay: Number.NaN }, 'maxDelay'], [{ baseDelay: 10, maxDelay: 5 }, 'maxDelay'],
      [{ jitter: 1.5 }, 'jitter'], [{ jitter: -0.1 }, 'jitter']
    ]
    for (const [opts, field] of bad) {
      assert.throws(() => new RetryPolicy(opts), (e: unknown) => e instanceof InvalidOptionError && e.field === field, JSON.stringify(opts))
    }
  })
})
