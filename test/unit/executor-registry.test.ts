import assert from 'node:assert/strict'
import { BaseTaskHandler, TaskRegistry } from '../../src/node/handlers/registry.js'
import { DuplicateHandlerError, HandlerLoadError, InvalidPayloadError, toErrorData } from '../../src/node/handlers/errors.js'
import { registerBuiltins } from '../../src/node/handlers/builtins/index.js'
import { asObject, num, oneOf } from '../../src/node/handlers/payload.js'
import { DEFAULT_POLICY } from '../../src/node/executor/limits.js'

class Double extends BaseTaskHandler {
  taskType = 'double'
  execute (p: { x: number }) { return p.x * 2 }
}

describe('TaskRegistry and payload checks', () => {
  it('registers, lists, refuses duplicates and malformed handlers', () => {
    const r = new TaskRegistry()
    r.register(new Double())
    assert.equal(r.has('double'), true)
    assert.equal(r.entry('double')?.isolation, 'inline')
    assert.throws(() => r.register(new Double()), DuplicateHandlerError)
    assert.throws(() => r.register({ taskType: 'x y', execute: () => 1 } as unknown as BaseTaskHandler), HandlerLoadError)
    assert.throws(() => r.register({ taskType: 'ok' } as unknown as BaseTaskHandler), /execute is not a function/)
    assert.throws(() => new TaskRegistry().register(new Double(), { isolation: 'process' }), /no module path/)
    assert.deepEqual(r.types(), ['double'])
  })

  it('built-ins: command is only available with system_commands', () => {
    const r = new TaskRegistry()
    registerBuiltins(r)
    assert.deepEqual(r.types(), ['command', 'echo', 'file_operation', 'python_eval', 'sleep', 'system_info'])
    assert.equal(r.availableTypes(DEFAULT_POLICY).includes('command'), false)
    assert.equal(r.availableTypes({ ...DEFAULT_POLICY, grants: ['system_commands'] }).includes('command'), true)
  })

  it('a custom handler of a built-in type wins', () => {
    const r = new TaskRegistry()
    r.register({ taskType: 'echo', execute: () => 'mine' } as unknown as BaseTaskHandler)
    registerBuiltins(r)
    assert.equal(r.get('echo')!.execute({}, undefined as never), 'mine')
  })

  it('payload checks name the field', () => {
    assert.throws(() => asObject(null), /^InvalidPayloadError: payload: must be an object, got null/)
    assert.throws(() => num({ d: 'x' }, 'd'), (e: InvalidPayloadError) => e.field === 'd' && /payload\.d: must be a finite number/.test(e.message))
    assert.throws(() => num({ d: -1 }, 'd', { min: 0 }), /payload\.d: must be >= 0/)
    assert.throws(() => oneOf({ op: 'x' }, 'op', ['a', 'b']), /payload\.op: must be one of a, b/)
    assert.equal(num({}, 'd', { optional: true }), undefined)
  })

  it('toErrorData maps typed failures, error-shaped objects and plain throws', () => {
    assert.deepEqual(toErrorData(new InvalidPayloadError('n', 'bad')), { type: 'invalid_payload', message: 'payload.n: bad', details: { field: 'n' } })
    assert.deepEqual(toErrorData({ type: 'timeout_error', message: 'slow' }), { type: 'timeout_error', message: 'slow' })
    assert.deepEqual(toErrorData(new Error('x')), { type: 'execution_error', message: 'x' })
    assert.deepEqual(toErrorData('str'), { type: 'execution_error', message: 'str' })
  })
})
