// RetryPolicy: which failures are retried and after how long. The seed's options, in camelCase or
// snake_case. Randomness (jitter) is injected, so a retry delay can be replicated: the leader
// computes it once and writes it into the log (see commands.ts `notBefore`).

import { InvalidOptionError } from './errors.js'
import type { Rng } from './rng.js'
import { TaskErrorType } from './types.js'

export type BackoffStrategy = 'fixed' | 'linear' | 'exponential'
const STRATEGIES: readonly BackoffStrategy[] = ['fixed', 'linear', 'exponential']

export interface RetryPolicyOptions {
  /** attempts after the first. @default 3 */
  maxRetries?: number
  /** @default 'exponential' */
  backoffStrategy?: BackoffStrategy
  /** seconds. @default 2 */
  baseDelay?: number
  /** seconds; caps every delay. @default 60 */
  maxDelay?: number
  /** fraction 0..1 of the delay removed at random: delay * (1 - jitter * rng()). @default 0 */
  jitter?: number
  /** error types worth retrying. @default network_error, timeout_error, resource_exhausted */
  retryableErrors?: readonly string[]
}

export type RetryPolicyInit = RetryPolicyOptions & {
  max_retries?: number, backoff_strategy?: BackoffStrategy, base_delay?: number, max_delay?: number, retryable_errors?: readonly string[]
}

export const DEFAULT_RETRYABLE_ERRORS: readonly string[] = [
  TaskErrorType.NETWORK_ERROR, TaskErrorType.TIMEOUT_ERROR, TaskErrorType.RESOURCE_EXHAUSTED
]

function nonNegative (field: string, v: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new InvalidOptionError(field, `must be a ${integer ? 'non-negative integer' : 'finite number >= 0'}, got ${String(v)}`)
  }
  return v
}

export class RetryPolicy {
  readonly maxRetries: number
  readonly backoffStrategy: BackoffStrategy
  readonly baseDelay: number
  readonly maxDelay: number
  readonly jitter: number
  readonly retryableErrors: ReadonlySet<string>

  constructor (init: RetryPolicyInit = {}) {
    this.maxRetries = nonNegative('maxRetries', init.maxRetries ?? init.max_retries ?? 3, true)
    const strategy = init.backoffStrategy ?? init.backoff_strategy ?? 'exponential'
    if (!STRATEGIES.includes(strategy)) throw new InvalidOptionError('backoffStrategy', `must be one of ${STRATEGIES.join(', ')}, got ${String(strategy)}`)
    this.backoffStrategy = strategy
    this.baseDelay = nonNegative('baseDelay', init.baseDelay ?? init.base_delay ?? 2)
    this.maxDelay = nonNegative('maxDelay', init.maxDelay ?? init.max_delay ?? 60)
    if (this.maxDelay < this.baseDelay) throw new InvalidOptionError('maxDelay', `must be >= baseDelay (${this.baseDelay}), got ${this.maxDelay}`)
    const jitter = nonNegative('jitter', init.jitter ?? 0)
    if (jitter > 1) throw new InvalidOptionError('jitter', `must be a fraction 0..1, got ${jitter}`)
    this.jitter = jitter
    this.retryableErrors = new Set(init.retryableErrors ?? init.retryable_errors ?? DEFAULT_RETRYABLE_ERRORS)
  }

  /**
   * Retry after a failure of `errorType` when `retryCount` retries were already made? `maxRetries`
   * defaults to the policy's; pass the task's requirements.maxRetries to honour a per-task limit.
   */
  shouldRetry (errorType: string, retryCount: number, maxRetries = this.maxRetries): boolean {
    return this.retryableErrors.has(errorType) && retryCount < maxRetries
  }

  /**
   * Seconds to wait before retry number retryCount+1 (retryCount 0 → the first retry waits baseDelay):
   * fixed = base, linear = base * (n + 1), exponential = base * 2^n; capped at maxDelay; then
   * jitter removes a random fraction up to `jitter`, so the result is in [d * (1 - jitter), d].
   * rng is only called when jitter > 0.
   */
  nextDelay (retryCount: number, rng?: Rng): number {
    const n = Math.max(0, Math.floor(retryCount))
    let d: number
    switch (this.backoffStrategy) {
      case 'fixed': d = this.baseDelay; break
      case 'linear': d = this.baseDelay * (n + 1); break
      case 'exponential': d = this.baseDelay * 2 ** Math.min(n, 1023); break
    }
    d = Math.min(d, this.maxDelay)
    if (this.jitter > 0) {
      if (rng === undefined) throw new InvalidOptionError('rng', 'nextDelay needs an rng when jitter > 0')
      d *= 1 - this.jitter * rng()
    }
    return d
  }

  toJSON (): Required<RetryPolicyOptions> {
    return {
      maxRetries: this.maxRetries,
      backoffStrategy: this.backoffStrategy,
      baseDelay: this.baseDelay,
      maxDelay: this.maxDelay,
      jitter: this.jitter,
      retryableErrors: [...this.retryableErrors]
    }
  }
}

/** The seed's policy: 3 retries, exponential from 2 s up to 60 s, no jitter. */
export const DEFAULT_RETRY_POLICY = new RetryPolicy()
