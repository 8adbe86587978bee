// The package as a user meets it: `npm pack`, install the tarball into an empty directory, then
//   - the seed's queue example as a plain ES module script importing 'retire-cluster' (no node), and
//     a CommonJS script that requires it,
//   - every example of docs/guide.md (examples/*.ts, imports rewritten to 'retire-cluster') run as a
//     script against that install (the pure ones without a node, the others with their own node),
//   - `retire-cluster start` from the install, and a submit → result against it with the installed CLI,
//   - `npm exec retire-cluster` (what npx runs) finds the binary.
//
// Bounded: the install uses the npm cache (--prefer-offline) and skips install scripts; better-sqlite3's
// binding is then copied from this checkout's build (what its script would download as a prebuilt
// binary), because compiling SQLite takes minutes. Packing uses the dist that `npm test` has just
// built (`npm run build` first when running this file alone).
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { eventually } from '../helpers/eventually.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error']

interface Run { code: number, stdout: string, stderr: string }

function run (file: string, args: string[], opts: { cwd: string, timeoutMs: number, env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise(resolve => {
    execFile(file, args, { cwd: opts.cwd, timeout: opts.timeoutMs, maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: '1', ...opts.env } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

const npm = async (args: string[], cwd: string, timeoutMs: number): Promise<Run> => await run('npm', args, { cwd, timeoutMs })

/** The seed's 任务队列管理 sample, as a user would write it after `npm install retire-cluster`. */
const QUEUE_SAMPLE = `
import { Task, TaskQueue, TaskPriority, TaskStatus } from 'retire-cluster'

const queue = new TaskQueue({
  maxSize: 1000,
  priorityWeights: {
    [TaskPriority.URGENT]: 1.0, [TaskPriority.HIGH]: 0.8, [TaskPriority.NORMAL]: 0.5,
    [TaskPriority.LOW]: 0.3, [TaskPriority.BACKGROUND]: 0.1
  }
})
const now = Date.now()
const report = new Task({ task_type: 'echo', payload: { job: 'report' }, priority: TaskPriority.BACKGROUND })
const resize = new Task({ task_type: 'echo', payload: { job: 'resize' } })
const alert = new Task({ task_type: 'echo', payload: { job: 'alert' } })
queue.enqueue(report, now)
queue.enqueue(resize, now)
queue.enqueue(alert, now, TaskPriority.HIGH)
const stats = queue.getStatistics(now + 5000)
const queued = queue.listTasks({ status: TaskStatus.QUEUED }).length
const order = []
for (let t = queue.dequeue(now); t !== undefined; t = queue.dequeue(now)) order.push(t.payload.job)
console.log(JSON.stringify({ order, size: stats.size, byPriority: stats.byPriority, queued, ids: [report.id, resize.id, alert.id] }))
`

describe('e2e: the packed package, installed', function () {
  this.timeout(180_000)
  let tmp: string
  let app: string
  let bin: string
  let node: ChildProcess | undefined

  before(async function () {
    this.timeout(150_000)
    tmp = mkdtempSync(join(tmpdir(), 'rc-pkg-'))
    app = join(tmp, 'app')
    mkdirSync(app)
    if (!existsSync(join(ROOT, 'dist/src/index.js'))) {
      const b = await npm(['run', 'build'], ROOT, 120_000)
      assert.equal(b.code, 0, b.stdout + b.stderr)
    }
    const pack = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp, ...NPM_FLAGS], ROOT, 60_000)
    assert.equal(pack.code, 0, pack.stderr)
    const tgz = join(tmp, (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0]!.filename)
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'rc-user', private: true, type: 'module' }))
    const inst = await npm(['install', '--omit=dev', '--ignore-scripts', ...NPM_FLAGS, tgz], app, 120_000)
    assert.equal(inst.code, 0, inst.stdout + inst.stderr)
    // better-sqlite3's binding: the one built in this checkout, for the same version and Node
    const want = JSON.parse(readFileSync(join(ROOT, 'node_modules/better-sqlite3/package.json'), 'utf8')).version
    const got = JSON.parse(readFileSync(join(app, 'node_modules/better-sqlite3/package.json'), 'utf8')).version
    assert.equal(got, want, 'the install resolved the better-sqlite3 this checkout has built')
    const binding = join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')
    mkdirSync(dirname(binding), { recursive: true })
    copyFileSync(join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'), binding)
    bin = join(app, 'node_modules/retire-cluster/bin/retire-cluster.js')
  })

  after(async () => {
    if (node !== undefined && node.exitCode === null) {
      node.kill('SIGTERM')
      await new Promise(resolve => { const t = setTimeout(resolve, 10_000); node!.once('exit', () => { clearTimeout(t); resolve(undefined) }) })
    }
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true })
  })

  it('installs only what a node runs: no dev tools, no prom-client, one @libp2p/interface', () => {
    const nm = join(app, 'node_modules')
    for (const gone of ['typescript', 'tsx', 'mocha', 'prom-client', 'playwright-core']) assert.ok(!existsSync(join(nm, gone)), `${gone} installed`)
    assert.ok(!existsSync(join(nm, '@libp2p/crypto/node_modules/@libp2p/interface')), 'a second @libp2p/interface under @libp2p/crypto')
    assert.ok(existsSync(join(nm, 'retire-cluster/dist/src/index.d.ts')), 'types shipped')
    assert.deepEqual(readdirSync(join(nm, 'retire-cluster/dist/src')).filter(f => f.endsWith('.map')), [], 'no source maps')
  })

  it("the seed's queue example runs as a plain script with no node", async () => {
    writeFileSync(join(app, 'queue.mjs'), QUEUE_SAMPLE)
    const r = await run(process.execPath, ['queue.mjs'], { cwd: app, timeoutMs: 30_000 })
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as { order: string[], size: number, byPriority: Record<string, number>, queued: number, ids: string[] }
    assert.deepEqual(out.order, ['alert', 'resize', 'report'])
    assert.equal(out.size, 3)
    assert.deepEqual(out.byPriority, { URGENT: 0, HIGH: 1, NORMAL: 1, LOW: 0, BACKGROUND: 1 })
    assert.equal(out.queued, 3)
    assert.ok(out.ids[0]! < out.ids[1]! && out.ids[1]! < out.ids[2]!, 'ids increase in creation order')
  })

  it('CommonJS can require it too (Node >= 20.19 loads ES modules from require)', async function () {
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number]
    if (major === 20 && minor < 19) this.skip()
    writeFileSync(join(app, 'cjs.cjs'), "const { Task } = require('retire-cluster'); console.log(new Task({ task_type: 'echo' }).taskType)")
    const r = await run(process.execPath, ['cjs.cjs'], { cwd: app, timeoutMs: 30_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'echo')
  })

  it('every example of docs/guide.md runs as a script against the install', async function () {
    this.timeout(150_000)
    const dir = join(app, 'examples')
    mkdirSync(dir)
    const files = readdirSync(join(ROOT, 'examples')).filter(f => f.endsWith('.ts'))
    for (const f of files) {
      const text = readFileSync(join(ROOT, 'examples', f), 'utf8').replaceAll("'../src/index.js'", "'retire-cluster'")
      assert.ok(!text.includes('../src/'), `${f} reaches into src/`)
      writeFileSync(join(dir, f), text)
    }
    // TypeScript sources: run through tsx from this checkout; every import resolves in the install
    const tsx = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href
    const scripts = files.filter(f => f !== '_node.ts' && readFileSync(join(dir, f), 'utf8').includes('runIfMain('))
    assert.ok(scripts.length >= 10, `found ${scripts.length} runnable examples`)
    const failures: string[] = []
    const queue = [...scripts]
    await Promise.all([0, 1].map(async () => { // two at a time: each starts its own node
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
        const r = await run(process.execPath, ['--import', tsx, join('examples', f)], { cwd: app, timeoutMs: 60_000 })
        if (r.code !== 0) failures.push(`${f}: exit ${r.code}\n${r.stderr.slice(-2000)}`)
      }
    }))
    assert.deepEqual(failures, [])
  })

  it('`retire-cluster start` from the install: submit → result with the installed CLI; npm exec finds the bin', async function () {
    this.timeout(90_000)
    const dataDir = join(tmp, 'node')
    node = spawn(process.execPath, [bin, 'start', '--data-dir', dataDir, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] })
    let log = ''
    node.stdout!.on('data', (b: Buffer) => { log += b.toString() })
    node.stderr!.on('data', (b: Buffer) => { log += b.toString() })
    await eventually(() => existsSync(join(dataDir, 'node.json')), { timeoutMs: 30_000, message: `node.json (log: ${log})` })
    const sub = await run(process.execPath, [bin, 'submit', 'echo', '-p', '{"message":"from the tarball"}', '--wait', '--json', '--data-dir', dataDir], { cwd: app, timeoutMs: 60_000 })
    assert.equal(sub.code, 0, sub.stderr + log)
    const task = JSON.parse(sub.stdout) as { status: string, result: unknown }
    assert.equal(task.status, 'completed')
    assert.match(JSON.stringify(task.result), /from the tarball/)

    const ver = await npm(['exec', '--offline', '--', 'retire-cluster', '--version'], app, 30_000)
    assert.equal(ver.code, 0, ver.stderr)
    assert.match(ver.stdout, /\d+\.\d+\.\d+/)
  })
})
