// A worker's result made to fit the wire (src/protocol/fit-result.ts), and a worker whose result did
// not fit: before, the leader refused it on every resend and every later result of that worker
// waited behind it in the same batch for good.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fitResult } from '../../src/protocol/fit-result.js'
import { AttemptResultSchema } from '../../src/protocol/messages.js'
import { EXEC_BATCH_MESSAGES } from '../../src/protocol/exec-batch.js'
import { decode, encode } from '../../src/protocol/codec.js'
import { MAX_RESULT_BYTES, MAX_TEXT_LENGTH } from '../../src/protocol/limits.js'
import type { AttemptResult } from '../../src/sched/commands.js'
import { TaskExecutor } from '../../src/node/executor/executor.js'
import { Worker } from '../../src/node/worker/worker.js'
import { createLogger } from '../../src/node/log.js'

const base = (): AttemptResult => ({ taskId: 't1', attempt: 1, deviceId: 'd1', status: 'completed', startedAt: 1, finishedAt: 2 })

describe('fitResult', () => {
  it('leaves a result that fits as it is (the same object)', () => {
    const r = { ...base(), result: { ok: true } }
    assert.equal(fitResult(r), r)
  })

  it('shortens a long message, leaves out oversized details, fails an oversized result — and says so', () => {
    const long = fitResult({ ...base(), status: 'failed', error: { type: 'permission_denied', message: 'x'.repeat(6000) } })
    assert.equal(long.error!.type, 'permission_denied')
    assert.equal(long.error!.message.length, MAX_TEXT_LENGTH)
    const details = fitResult({ ...base(), status: 'failed', error: { type: 'execution_error', message: 'exit 2', details: { stdout: 'y'.repeat(70_000) } } })
    assert.equal(details.error!.details, undefined)
    assert.match(details.error!.message, /^exit 2 \(details left out: over 65536 bytes\)$/)
    const big = fitResult({ ...base(), result: 'z'.repeat(MAX_RESULT_BYTES + 10) })
    assert.equal(big.status, 'failed')
    assert.equal(big.result, undefined)
    assert.equal(big.error!.type, 'resource_exhausted')
    const odd = fitResult({ ...base(), status: 'failed', error: { type: 'no_such_type' as any, message: 'm' } })
    assert.equal(odd.error!.type, 'execution_error')
    for (const r of [long, details, big, odd]) assert.equal(AttemptResultSchema.check(r), undefined)
  })

  it('a worker whose result did not fit reports it and every later one (encoded and schema-checked as the leader does)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-fit-'))
    const ex = new TaskExecutor({ maxConcurrentTasks: 2, logLevel: 'silent', sandboxEnabled: false, node: { allowedPaths: [dir], grants: ['read_files'] } })
    const task = (id: string, taskType: string, payload: unknown): any => ({ id, taskType, payload, priority: 3, requirements: { timeoutSeconds: 30 }, createdAt: Date.now() })
    const acked: string[] = []
    const w = new Worker('dev-A', ex, {
      sendResults: async rs => {
        const m = decode(encode('results', { results: rs }), EXEC_BATCH_MESSAGES)
        const keys = (m.body as { results: AttemptResult[] }).results.map(r => `${r.taskId}:${r.attempt}`)
        acked.push(...keys)
        return keys
      },
      sendStarted: () => {},
      sendProgress: () => {}
    }, createLogger('w', 'silent'))
    try {
      // a path outside the allowed ones, 3,000 characters long: its permission error is ~6 KB
      w.assign([{ taskId: 'bad', attempt: 1, task: task('bad', 'file_operation', { operation: 'stat', path: '/' + 'a'.repeat(3000) }) }])
      w.assign([{ taskId: 'good', attempt: 1, task: task('good', 'echo', { hi: 1 }) }])
      for (let i = 0; i < 100 && acked.length < 2; i++) await new Promise(resolve => setTimeout(resolve, 20))
      assert.deepEqual(acked.sort(), ['bad:1', 'good:1'])
    } finally {
      w.stop()
      await ex.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
