import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TaskExecutor } from '../../src/node/executor/executor.js'
import { makeTask } from '../fixtures/handlers/make-task.js'

describe('file_operation handler', function () {
  this.timeout(20_000)
  let root: string
  let allowed: string
  let outside: string
  let ex: TaskExecutor
  before(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'rc-files-')))
    allowed = join(root, 'allowed')
    outside = join(root, 'outside')
    mkdirSync(allowed)
    mkdirSync(outside)
    writeFileSync(join(outside, 'secret.txt'), 'top secret')
    symlinkSync(outside, join(allowed, 'link-out'))
    symlinkSync(join(outside, 'secret.txt'), join(allowed, 'secret-link'))
    symlinkSync(join(outside, 'not-yet'), join(allowed, 'dangling'))
  })
  after(() => { rmSync(root, { recursive: true, force: true }) })
  beforeEach(() => { ex = new TaskExecutor({ logLevel: 'silent', node: { allowedPaths: [allowed], maxFileSizeBytes: 1000 } }) })
  afterEach(async () => { await ex.close() })

  const op = async (payload: Record<string, unknown>, e = ex) => await e.execute(makeTask('file_operation', payload))

  it('write, append, read, stat, list, mkdir, delete inside the allowed path', async () => {
    const f = join(allowed, 'a.txt')
    assert.equal((await op({ operation: 'write', path: f, content: 'hello' })).status, 'completed')
    assert.equal((await op({ operation: 'append', path: 'a.txt', content: ' world' })).status, 'completed')
    assert.equal(readFileSync(f, 'utf8'), 'hello world')
    const read = await op({ operation: 'read', path: f })
    assert.deepEqual(read.result, { path: f, size: 11, encoding: 'utf8', content: 'hello world' })
    const st = await op({ operation: 'stat', path: f })
    assert.equal((st.result as { type: string, size: number }).size, 11)
    assert.equal((await op({ operation: 'mkdir', path: 'sub/deeper' })).status, 'completed')
    assert.ok(existsSync(join(allowed, 'sub/deeper')))
    const ls = await op({ operation: 'list', path: allowed })
    const names = (ls.result as { entries: Array<{ name: string }> }).entries.map(e => e.name).sort()
    assert.deepEqual(names, ['a.txt', 'dangling', 'link-out', 'secret-link', 'sub'])
    assert.equal((await op({ operation: 'delete', path: f })).status, 'completed')
    assert.equal(existsSync(f), false)
    const nonEmpty = await op({ operation: 'delete', path: 'sub' })
    assert.equal(nonEmpty.error?.type, 'invalid_payload')
    assert.equal((await op({ operation: 'delete', path: 'sub', recursive: true })).status, 'completed')
    const b64 = await op({ operation: 'write', path: 'bin', content: Buffer.from([0, 1, 2]).toString('base64'), encoding: 'base64' })
    assert.equal(b64.status, 'completed')
    assert.deepEqual([...readFileSync(join(allowed, 'bin'))], [0, 1, 2])
  })

  it('refuses ../ and symlink escapes, and never touches the outside', async () => {
    const escapes: Array<Record<string, unknown>> = [
      { operation: 'read', path: join(allowed, '../outside/secret.txt') },
      { operation: 'read', path: '../outside/secret.txt' },
      { operation: 'read', path: '/etc/passwd' },
      { operation: 'read', path: join(allowed, 'link-out/secret.txt') },
      { operation: 'read', path: join(allowed, 'secret-link') },
      { operation: 'write', path: join(allowed, 'link-out/new.txt'), content: 'x' },
      { operation: 'write', path: join(allowed, 'link-out/deep/er/new.txt'), content: 'x' },
      { operation: 'write', path: join(allowed, 'dangling'), content: 'x' },
      { operation: 'delete', path: join(allowed, 'secret-link') },
      { operation: 'delete', path: allowed, recursive: true },
      { operation: 'list', path: join(allowed, 'link-out') },
      { operation: 'mkdir', path: join(allowed, '..', 'outside', 'made') }
    ]
    for (const p of escapes) {
      const out = await op(p)
      assert.equal(out.status, 'failed', JSON.stringify(p))
      assert.equal(out.error?.type, 'permission_denied', `${JSON.stringify(p)} → ${JSON.stringify(out.error)}`)
    }
    assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'top secret')
    assert.equal(existsSync(join(outside, 'new.txt')), false)
    assert.equal(existsSync(join(outside, 'not-yet')), false)
    assert.equal(existsSync(join(outside, 'made')), false)
    assert.equal(existsSync(join(outside, 'deep')), false)
    assert.ok(existsSync(allowed))
  })

  it('maxFileSize is enforced on read, write and append', async () => {
    writeFileSync(join(allowed, 'big'), Buffer.alloc(2000))
    assert.equal((await op({ operation: 'read', path: 'big' })).error?.type, 'resource_exhausted')
    assert.equal((await op({ operation: 'write', path: 'w', content: 'x'.repeat(1001) })).error?.type, 'resource_exhausted')
    assert.equal(existsSync(join(allowed, 'w')), false)
    await op({ operation: 'write', path: 'w', content: 'x'.repeat(900) })
    assert.equal((await op({ operation: 'append', path: 'w', content: 'x'.repeat(200) })).error?.type, 'resource_exhausted')
    assert.equal(readFileSync(join(allowed, 'w'), 'utf8').length, 900)
  })

  it('needs read_files / write_files grants', async () => {
    const ro = new TaskExecutor({ logLevel: 'silent', node: { grants: ['read_files'], allowedPaths: [allowed] } })
    const none = new TaskExecutor({ logLevel: 'silent', node: { grants: [], allowedPaths: [allowed] } })
    try {
      const w = await op({ operation: 'write', path: 'ro.txt', content: 'x' }, ro)
      assert.equal(w.error?.type, 'permission_denied')
      assert.match(w.error!.message, /write_files/)
      assert.equal(existsSync(join(allowed, 'ro.txt')), false)
      assert.equal((await op({ operation: 'stat', path: '.' }, ro)).status, 'completed')
      assert.equal((await op({ operation: 'stat', path: '.' }, none)).error?.type, 'permission_denied')
    } finally { await ro.close(); await none.close() }
  })

  it('a task sandbox can narrow the allowed paths or forbid the filesystem', async () => {
    mkdirSync(join(allowed, 'narrow'), { recursive: true })
    const narrow = await ex.execute(makeTask('file_operation', { operation: 'stat', path: '.' }, { sandbox: { allowedPaths: [join(allowed, 'narrow')] } }))
    assert.equal(narrow.error?.type, 'permission_denied')
    const ok = await ex.execute(makeTask('file_operation', { operation: 'stat', path: 'narrow' }, { sandbox: { allowedPaths: [join(allowed, 'narrow')] } }))
    assert.equal(ok.status, 'completed', JSON.stringify(ok.error))
    const nofs = await ex.execute(makeTask('file_operation', { operation: 'stat', path: '.' }, { sandbox: { allowFilesystem: false } }))
    assert.equal(nofs.error?.type, 'permission_denied')
  })

  it('wrong payload shapes are invalid_payload naming the field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ path: 'x' }, /payload\.operation/],
      [{ operation: 'chmod', path: 'x' }, /payload\.operation/],
      [{ operation: 'read' }, /payload\.path/],
      [{ operation: 'write', path: 'x' }, /payload\.content/],
      [{ operation: 'read', path: 'x', encoding: 'latin9' }, /payload\.encoding/],
      [{ operation: 'read', path: 'does-not-exist' }, /does not exist/],
      [[], /payload/]
    ]
    for (const [payload, re] of cases) {
      const out = await ex.execute(makeTask('file_operation', payload))
      assert.equal(out.error?.type, 'invalid_payload', JSON.stringify(payload))
      assert.match(out.error!.message, re)
    }
  })
})
