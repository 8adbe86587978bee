import assert from 'node:assert/strict'
import { existsSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TaskExecutor } from '../../src/node/executor/executor.js'
import { detectSandboxSync } from '../../src/node/system/sandbox.js'
import { makeTask } from '../fixtures/handlers/make-task.js'

describe('python_eval (real python3 child, AST whitelist)', function () {
  this.timeout(30_000)
  let ex: TaskExecutor
  before(function () { if (!detectSandboxSync().python3) this.skip() })
  beforeEach(() => { ex = new TaskExecutor({ logLevel: 'silent', resourceLimits: { memoryMb: 256 } }) })
  afterEach(async () => { await ex?.close() })

  const run = async (expression: unknown, opts: { timeoutSeconds?: number } = {}) => await ex.execute(makeTask('python_eval', { expression }, opts))

  it('is advertised where python3 exists', () => {
    assert.ok(ex.capabilities().taskTypes.includes('python_eval'))
  })

  it('sum(range(1000000)) → 499999500000', async () => {
    const out = await run('sum(range(1000000))')
    assert.equal(out.status, 'completed', JSON.stringify(out.error))
    assert.equal(out.result, 499999500000)
  })

  it('evaluates literals, arithmetic, comparisons, comprehensions, safe builtins', async () => {
    const cases: Array<[string, unknown]> = [
      ['2 + 2', 4],
      ['[x * x for x in range(6) if x % 2]', [1, 9, 25]],
      ['sorted([3, 1, 2], key=lambda v: -v)', [3, 2, 1]],
      ['{k: len(k) for k in ["a", "bb"]}', { a: 1, bb: 2 }],
      ['max(1, 5) > min(2, 3) and not False', true],
      ['round(abs(-2.567), 2)', 2.57],
      ['"-".join(["a", "b"]).upper()', 'A-B'],
      ['2 ** 100', '1267650600228229401496703205376'],
      ['None', null]
    ]
    for (const [expr, want] of cases) {
      const out = await run(expr)
      assert.equal(out.status, 'completed', `${expr}: ${JSON.stringify(out.error)}`)
      assert.deepEqual(out.result, want, expr)
    }
  })

  it('refuses imports, dunders, exec/eval/open with permission_denied before anything runs', async () => {
    const marker = join(tmpdir(), `rc-py-escape-${process.pid}`)
    rmSync(marker, { force: true })
    const evil = [
      "__import__('os')",
      '().__class__',
      '().__class__.__bases__[0].__subclasses__()',
      `__import__('os').system('touch ${marker}')`,
      "open('/etc/passwd').read()",
      "exec('1')",
      "eval('1+1')",
      "getattr(1, 'real')",
      '"{0.__class__}".format(1)',
      '[c for c in ().__class__.__mro__]',
      '(lambda: 1)()',
      'globals()',
      "(x := 1)"
    ]
    for (const expr of evil) {
      const out = await run(expr)
      assert.equal(out.status, 'failed', expr)
      assert.equal(out.error?.type, 'permission_denied', `${expr}: ${JSON.stringify(out.error)}`)
    }
    assert.equal(existsSync(marker), false, 'the refused expression never ran')
  })

  it('syntax errors and bad payloads are invalid_payload; runtime errors are execution_error', async () => {
    assert.equal((await run('1 +')).error?.type, 'invalid_payload')
    const missing = await ex.execute(makeTask('python_eval', { expr: '1' }))
    assert.equal(missing.error?.type, 'invalid_payload')
    assert.match(missing.error!.message, /payload\.expression/)
    assert.equal((await run(42)).error?.type, 'invalid_payload')
    const huge = await run('list(range(2000000))')
    assert.equal(huge.error?.type, 'execution_error')
    assert.match(huge.error!.message, /over the limit/)
    const zero = await run('1 / 0')
    assert.equal(zero.error?.type, 'execution_error')
    assert.match(zero.error!.message, /ZeroDivisionError/)
  })

  it('a memory hog is stopped: resource_exhausted', async () => {
    const out = await run("len('x' * (2 * 10 ** 9))")
    assert.equal(out.status, 'failed')
    assert.equal(out.error?.type, 'resource_exhausted', JSON.stringify(out.error))
  })

  it('an endless computation times out and its process is killed', async () => {
    const t0 = Date.now()
    const out = await run('sum(range(10 ** 13))', { timeoutSeconds: 1 })
    assert.equal(out.status, 'timeout')
    assert.equal(out.error?.type, 'timeout_error')
    assert.ok(Date.now() - t0 < 2500)
    assert.ok(out.resourceUsage !== undefined && out.resourceUsage.cpu > 20, JSON.stringify(out.resourceUsage))
  })
})
