// Cluster-wide rate limits, enforced where placement happens: the leader's scheduler. A rule "N per
// T seconds" for a task type or a principal is a token bucket refilled at N/T per second; each
// assignment takes a token. Pure: the time comes in as an argument, so the same calls give the same
// answers (unit tests drive it with a fake clock).
//
// The buckets are the leader's soft state, not replicated: a new leader starts them full (at most
// `burst` extra assignments per rule at a leader change), which is cheaper than replicating one
// counter update per assignment. The rules themselves are replicated (ClusterSettings.rateLimits).

import type { RateLimitRule } from './commands.js'

/** A token bucket: `capacity` tokens, refilled at `perMs` tokens per ms, starting full. */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor (readonly capacity: number, readonly perMs: number, now: number) {
    this.tokens = capacity
    this.last = now
  }

  private refill (now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.perMs)
      this.last = now
    }
  }

  /** is a whole token available at `now`? */
  available (now: number): boolean {
    this.refill(now)
    return this.tokens >= 1
  }

  /** takes one token; false (and nothing taken) when none is available */
  take (now: number): boolean {
    if (!this.available(now)) return false
    this.tokens -= 1
    return true
  }
}

/**
 * Bucket capacity when a rule gives no burst. Not 1: the planner runs in rounds (every 100 ms and on
 * events), and a bucket of 1 that fills between rounds wastes the time until the next one, so the
 * cluster would run well under its limit. 2 carries that over; the price is 2 at once after a pause.
 */
export const DEFAULT_BURST = 2

/** What the limiter needs to know of a task. */
export interface RateLimited { taskType: string, submittedBy?: string }

/** "10/s", "30/min", "5/2.5s": how a rule reads in pending reasons and the CLI. */
export function describeRate (r: RateLimitRule): string {
  if (r.perSeconds === 1) return `${r.count}/s`
  if (r.perSeconds === 60) return `${r.count}/min`
  if (r.perSeconds === 3600) return `${r.count}/h`
  return `${r.count}/${r.perSeconds}s`
}

/** The rules of ClusterSettings.rateLimits, each with its bucket. */
export class RateLimiter {
  private readonly byType = new Map<string, { rule: RateLimitRule, bucket: TokenBucket }>()
  private readonly byPrincipal = new Map<string, { rule: RateLimitRule, bucket: TokenBucket }>()
  /** the rules this limiter was built from (the leader rebuilds it when they change) */
  readonly rules: readonly RateLimitRule[]

  constructor (rules: readonly RateLimitRule[], now: number) {
    this.rules = rules
    for (const r of rules) {
      const entry = { rule: r, bucket: new TokenBucket(Math.max(1, r.burst ?? DEFAULT_BURST), r.count / (r.perSeconds * 1000), now) }
      ;(r.scope === 'type' ? this.byType : this.byPrincipal).set(r.key, entry)
    }
  }

  get empty (): boolean { return this.byType.size === 0 && this.byPrincipal.size === 0 }

  /** Why `task` must wait at `now` (a pending reason), or undefined when it may be placed. Takes nothing. */
  blocked (task: RateLimited, now: number): string | undefined {
    const t = this.byType.get(task.taskType)
    if (t !== undefined && !t.bucket.available(now)) return `rate limited: ${describeRate(t.rule)} for type ${task.taskType}`
    const p = task.submittedBy === undefined ? undefined : this.byPrincipal.get(task.submittedBy)
    if (p !== undefined && !p.bucket.available(now)) return `rate limited: ${describeRate(p.rule)} for principal ${task.submittedBy as string}`
    return undefined
  }

  /** Takes a token from every rule that applies; call only after blocked() said undefined. */
  take (task: RateLimited, now: number): void {
    this.byType.get(task.taskType)?.bucket.take(now)
    if (task.submittedBy !== undefined) this.byPrincipal.get(task.submittedBy)?.bucket.take(now)
  }
}
