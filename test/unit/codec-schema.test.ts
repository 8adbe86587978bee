// The validator combinators: each accepts what it should, refuses what it should, and a failure
// names the path of the offending field.
import assert from 'node:assert/strict'
import { any, arr, bool, bytes, extend, formatPath, is, nullable, num, obj, oneOf, or, record, sizedAny, str, union, validate, type Infer } from '../../src/protocol/schema.js'
import { SchemaError } from '../../src/protocol/errors.js'

function failsAt (f: () => unknown, path: string, msg?: RegExp): void {
  try { f() } catch (e) {
    assert.ok(e instanceof SchemaError, String(e))
    assert.equal(e.path, path, e.message)
    if (msg !== undefined) assert.match(e.message, msg)
    return
  }
  assert.fail(`expected a SchemaError at ${path}`)
}

describe('schema combinators', () => {
  it('scalars: str, num, bool, bytes, oneOf, nullable, any', () => {
    assert.ok(is(str({ max: 3 }), 'abc'))
    assert.ok(!is(str({ max: 3 }), 'abcd'))
    assert.ok(!is(str({ min: 1 }), ''))
    assert.ok(!is(str(), 5))
    assert.ok(is(num({ min: 0, max: 10, int: true }), 10))
    assert.ok(!is(num({ int: true }), 1.5))
    assert.ok(!is(num(), NaN))
    assert.ok(!is(num(), Infinity))
    assert.ok(!is(num({ int: true }), 2 ** 60))
    assert.ok(!is(num({ min: 0 }), -1))
    assert.ok(!is(num(), '1'))
    assert.ok(is(bool(), false) && !is(bool(), 0))
    assert.ok(is(bytes({ max: 2 }), new Uint8Array(2)))
    assert.ok(is(bytes(), Buffer.from('x'))) // Buffer is a Uint8Array
    assert.ok(!is(bytes({ max: 2 }), new Uint8Array(3)))
    assert.ok(!is(bytes(), [1, 2]))
    assert.ok(is(oneOf('a', 1, true), 1) && is(oneOf('a', 1, true), true) && !is(oneOf('a', 1), 'b'))
    assert.ok(is(nullable(str()), null) && !is(str(), null))
    assert.ok(is(any(), undefined))
  })

  it('obj: required, optional, strict, plain objects only', () => {
    const S = obj({ a: num(), b: str() }, { optional: ['b'], strict: true })
    const v: Infer<typeof S> = validate(S, { a: 1 })
    assert.equal(v.a, 1)
    validate(S, { a: 1, b: 'x' })
    validate(S, { a: 1, b: undefined })
    failsAt(() => validate(S, { b: 'x' }), 'a', /is required/)
    failsAt(() => validate(S, { a: 1, c: 2 }), 'c', /unknown field/)
    failsAt(() => validate(S, [1]), '(root)', /expected object, got array/)
    failsAt(() => validate(S, new Date()), '(root)')
    failsAt(() => validate(S, null), '(root)')
    validate(obj({ a: num() }), { a: 1, extra: true }) // non-strict passes unknown keys
    const E = extend(S, { c: bool() })
    validate(E, { a: 1, c: true })
    failsAt(() => validate(E, { a: 1 }), 'c')
  })

  it('arr and record bound their size and name the element', () => {
    const S = obj({ entries: arr(obj({ term: num({ min: 0 }) }), { max: 5 }) })
    failsAt(() => validate(S, { entries: [{ term: 1 }, { term: 2 }, { term: 3 }, { term: -1 }] }), 'entries[3].term', /entries\[3\]\.term: must be >= 0/)
    failsAt(() => validate(S, { entries: new Array(6).fill({ term: 1 }) }), 'entries', /longer than 5/)
    const R = record(num(), { maxKeys: 2, maxKeyLength: 3 })
    validate(R, { a: 1, b: 2 })
    failsAt(() => validate(R, { a: 1, b: 'x' }), 'b')
    failsAt(() => validate(R, { a: 1, b: 2, c: 3 }), '(root)', /more than 2 keys/)
    failsAt(() => validate(R, { long: 1 }), '(root)', /key longer/)
  })

  it('union picks the case by discriminant and reports unknown tags at the discriminant', () => {
    const U = union('type', {
      add: obj({ x: num() }, { strict: true }),
      del: obj({ id: str() })
    })
    const v = validate(U, { type: 'add', x: 1 })
    if (v.type === 'add') assert.equal(v.x, 1)
    validate(U, { type: 'del', id: 'q' })
    failsAt(() => validate(U, { type: 'mul', x: 1 }), 'type', /expected one of add, del/)
    failsAt(() => validate(U, { type: 'add', x: 'no' }), 'x')
    failsAt(() => validate(U, { type: 'add', x: 1, y: 2 }), 'y', /unknown field/) // strict case still allows the tag
    failsAt(() => validate(arr(U), [{ type: 'del', id: 'a' }, { type: 'del' }]), '[1].id')
  })

  it('or and sizedAny', () => {
    const O = or(num(), str())
    assert.ok(is(O, 1) && is(O, 's') && !is(O, true))
    const A = sizedAny({ maxBytes: 100, maxDepth: 3 })
    assert.ok(is(A, { a: [1, 2, 'x'] }))
    assert.ok(!is(A, 'x'.repeat(200)))
    assert.ok(!is(A, { a: { b: { c: { d: 1 } } } }))
    assert.ok(!is(A, new Array(150).fill(1)))
    assert.ok(is(A, new Array(50).fill(1)))
    assert.ok(is(A, undefined))
  })

  it('error messages quote untrusted values only briefly', () => {
    try { validate(oneOf('a', 'b'), 'x'.repeat(100_000)); assert.fail('accepted') } catch (e) {
      assert.ok(e instanceof SchemaError)
      assert.ok(e.message.length < 200, `message is ${e.message.length} chars`)
    }
  })

  it('formatPath', () => {
    assert.equal(formatPath([]), '(root)')
    assert.equal(formatPath(['entries', 3, 'term']), 'entries[3].term')
    assert.equal(formatPath([0, 'a']), '[0].a')
  })

  it('a valid check allocates no issue and is fast', () => {
    const S = obj({ entries: arr(obj({ term: num({ int: true }), index: num({ int: true }), data: bytes() })) })
    const v = { entries: Array.from({ length: 1000 }, (_, i) => ({ term: 1, index: i, data: new Uint8Array(4) })) }
    const t0 = process.hrtime.bigint()
    for (let k = 0; k < 200; k++) assert.equal(S.check(v), undefined)
    const perEntryNs = Number(process.hrtime.bigint() - t0) / 200 / 1000
    assert.ok(perEntryNs < 2000, `${perEntryNs} ns per entry`)
  })
})
