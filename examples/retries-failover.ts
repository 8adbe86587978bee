// Seed "错误处理和重试": error classes, RetryPolicy, and how a failure is retried or failed over.
// Run: npx tsx examples/retries-failover.ts
import {
  BaseTaskHandler, DEFAULT_RETRY_POLICY, RetryPolicy, TaskErrorType, mulberry32,
  type ClusterNode, type TaskErrorData, type TaskRegistry, type TaskRecord
} from '../src/index.js'
import { runIfMain, startDemoNode } from './_node.js'

// Retryable by default: network_error, timeout_error, resource_exhausted.
// Never retried: invalid_payload, permission_denied, unsupported_operation (and execution_error,
// what a plain `throw new Error()` in a handler records). device_failure is handled by failover.
export const retryPolicy = new RetryPolicy({
  maxRetries: 3,
  backoffStrategy: 'exponential',   // 'linear' | 'exponential' | 'fixed'
  baseDelay: 2.0,                   // seconds
  maxDelay: 60.0,                   // seconds
  jitter: 0.1,                      // removes up to 10 % at random (needs an rng)
  retryableErrors: [TaskErrorType.NETWORK_ERROR, TaskErrorType.TIMEOUT_ERROR, TaskErrorType.RESOURCE_EXHAUSTED]
})

export function backoffDelays (): number[] {
  const rng = mulberry32(42)
  console.log(retryPolicy.shouldRetry('network_error', 0), retryPolicy.shouldRetry('invalid_payload', 0))   // true false
  // the seed's calculate_backoff_delay(retry_count): 2, 4, 8 s (each minus up to 10 % jitter)
  return [0, 1, 2].map(n => retryPolicy.nextDelay(n, rng))
}

/** Fails with a retryable error on its first attempt, succeeds on the next. */
class FlakyHandler extends BaseTaskHandler {
  readonly taskType = 'flaky_download'
  execute (payload: { url: string }, ctx: { attempt: number }): unknown {
    // a handler picks the recorded error type by throwing a plain { type, message } object
    if (ctx.attempt === 1) {
      const error: TaskErrorData = { type: 'network_error', message: `connection reset fetching ${payload.url}` }
      throw error
    }
    return { url: payload.url, bytes: 1234, attempt: ctx.attempt }
  }
}

/** The cluster applies DEFAULT_RETRY_POLICY; a task's own limit is requirements.max_retries. */
export async function retryOnCluster (node: ClusterNode): Promise<TaskRecord> {
  const registry = node.registry as TaskRegistry
  if (!registry.has('flaky_download')) registry.register(new FlakyHandler())
  const id = await node.scheduler.submitTask({
    task_type: 'flaky_download',
    payload: { url: 'http://example.com/file1' },
    requirements: { max_retries: 2 }
  })
  const rec = await node.scheduler.waitForResult(id, { timeoutMs: 30_000 })
  // completed on attempt 2, after DEFAULT_RETRY_POLICY.nextDelay(0) = 2 s of backoff
  console.log(rec.status, rec.attempts.map(a => `${a.attempt}:${a.status}${a.error !== undefined ? ` (${a.error.type})` : ''}`))
  console.log('cluster policy:', DEFAULT_RETRY_POLICY.toJSON())
  return rec
}

/**
 * Failover needs no code: when a device stops answering for deviceTimeoutMs (default 3 s) the
 * leader commits `deviceDown`; each task running there is marked failed (device_failure) and a
 * clone with excludeDevices += [device] is submitted. The original record's `replacedBy` names the
 * clone, and waitForResult follows that link to the final outcome.
 */
export function describeFailover (rec: TaskRecord): string {
  return rec.replacedBy !== undefined ? `${rec.id} failed over to ${rec.replacedBy}` : `${rec.id} ran where it was placed`
}

runIfMain(import.meta.url, async () => {
  console.log(backoffDelays())
  const node = await startDemoNode()
  try { console.log(describeFailover(await retryOnCluster(node))) } finally { await node.stopAndClean() }
})
