// A handler may throw anything; what reaches the Raft log is always a plain { type, message, details? }
// (an Error instance with a `type` once poisoned a whole `finished` entry on every node).
import assert from 'node:assert/strict'
import { TaskExecutor } from '../../src/node/executor/executor.js'
import { BaseTaskHandler } from '../../src/node/handlers/registry.js'
import { encodeCommands, decodeCommands } from '../../src/protocol/codec.js'
import { defaultRequirements } from '../../src/sched/requirements.js'
import type { TaskData } from '../../src/sched/types.js'

class Thrower extends BaseTaskHandler {
  readonly taskType = 'thrower'
  execute (payload: { kind: string }): unknown {
    if (payload.kind === 'typed-error') throw Object.assign(new Error('flaky network'), { type: 'network_error', details: { at: new Date(0), fn: () => 1 } })
    if (payload.kind === 'object') throw { type: 'invalid_payload', message: 'bad', extra: 'dropped' } // eslint-disable-line no-throw-literal
    throw new Error('plain')
  }
}

const task = (kind: string): TaskData => ({ id: `t-${kind}`, taskType: 'thrower', payload: { kind }, priority: 3, requirements: defaultRequirements(), requiredPermissions: [], retryCount: 0, createdAt: 0 })

describe('executor: thrown errors become plain log-safe data', () => {
  const ex = new TaskExecutor({ logLevel: 'silent' })
  ex.registry.register(new Thrower(), { isolation: 'inline' })
  after(async () => { await ex.close() })

  for (const [kind, type] of [['typed-error', 'network_error'], ['object', 'invalid_payload'], ['plain', 'execution_error']] as const) {
    it(`${kind} → ${type}, encodable as a finished command`, async () => {
      const out = await ex.execute(task(kind))
      assert.equal(out.status, 'failed')
      assert.equal(out.error?.type, type)
      assert.equal(Object.getPrototypeOf(out.error), Object.prototype, 'a plain object')
      assert.deepEqual(Object.keys(out.error!).filter(k => !['type', 'message', 'details'].includes(k)), [])
      const cmds = decodeCommands(encodeCommands([{ type: 'finished', at: 1, results: [{ taskId: task(kind).id, attempt: 1, deviceId: 'd', status: 'failed', error: out.error!, startedAt: 1, finishedAt: 2 }] }]))
      assert.equal(cmds.length, 1)
    })
  }
})
