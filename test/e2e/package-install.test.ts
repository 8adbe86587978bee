// The package as a user meets it: `npm pack` (with its bundle, scripts/bundle.mjs), install the tarball
// into an empty directory, then
//   - only better-sqlite3 (and what its install needs) beside the package: the rest is bundled,
//   - the seed's queue example as a plain ES module script importing 'retire-cluster' (no node), and
//     a CommonJS script that requires it,
//   - every example of docs/guide.md (examples/*.ts, imports rewritten to 'retire-cluster') run as a
//     script against that install (the pure ones without a node, the others with their own node),
//   - `retire-cluster start` from the install, and a submit → result against it with the installed CLI,
//   - `npm install -g --prefix <dir>` of the tarball: `<dir>/bin/retire-cluster start` answers, and
//     `npm exec --package <tgz> -- retire-cluster` (what `npx` runs) submits to it and reads the result;
//     then `npm exec ... retire-cluster start` runs a node that the global CLI submits to.
//
// Bounded: installs use the npm cache (--prefer-offline) and skip install scripts; better-sqlite3's
// binding is then copied from this checkout's build (what its script would download as a prebuilt
// binary), because compiling SQLite takes minutes. The tarball is packed from a staged copy of this
// checkout's dist (the one `npm test` has just built; `npm run build` first when running this file
// alone), so the checkout's own dist/ is never touched.
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
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

/** What `npm pack` in the checkout packs (package.json "files"), staged with the bundle; returns the tarball. */
async function packStaged (tmp: string): Promise<string> {
  const stage = join(tmp, 'stage')
  for (const f of ['package.json', 'README.md', 'bin', 'docs', 'src/node/dashboard']) cpSync(join(ROOT, f), join(stage, f), { recursive: true })
  cpSync(join(ROOT, 'dist/src'), join(stage, 'dist/src'), { recursive: true, filter: f => !f.endsWith('.map') })
  const b = await run(process.execPath, [join(ROOT, 'scripts/bundle.mjs'), stage, '--node-modules', join(ROOT, 'node_modules')], { cwd: ROOT, timeoutMs: 60_000 })
  assert.equal(b.code, 0, b.stdout + b.stderr)
  const pack = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp, ...NPM_FLAGS], stage, 60_000)
  assert.equal(pack.code, 0, pack.stderr)
  return join(tmp, (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0]!.filename)
}

/** better-sqlite3's binding in an install made without scripts: the one built in this checkout. */
function copyBinding (nodeModules: string): void {
  const want = JSON.parse(readFileSync(join(ROOT, 'node_modules/better-sqlite3/package.json'), 'utf8')).version
  const got = JSON.parse(readFileSync(join(nodeModules, 'better-sqlite3/package.json'), 'utf8')).version
  assert.equal(got, want, 'the install resolved the better-sqlite3 this checkout has built')
  const binding = join(nodeModules, 'better-sqlite3/build/Release/better_sqlite3.node')
  mkdirSync(dirname(binding), { recursive: true })
  copyFileSync(join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'), binding)
}

function duBytes (path: string): number {
  const st = statSync(path, { throwIfNoEntry: false })
  if (st === undefined || st.isSymbolicLink()) return 0
  if (!st.isDirectory()) return st.size
  return readdirSync(path).reduce((n, f) => n + duBytes(join(path, f)), 0)
}

/** Starts `retire-cluster start` (the given bin) on a fresh data dir; resolves once node.json is written. */
async function startNodeFrom (bin: string[], dataDir: string, cwd: string): Promise<{ child: ChildProcess, log: () => string }> {
  // its own process group: `npm exec` runs the bin under a shell, and stopNode signals them all
  const child = spawn(bin[0]!, [...bin.slice(1), 'start', '--data-dir', dataDir, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let log = ''
  child.stdout!.on('data', (b: Buffer) => { log += b.toString() })
  child.stderr!.on('data', (b: Buffer) => { log += b.toString() })
  await eventually(() => existsSync(join(dataDir, 'node.json')), { timeoutMs: 30_000, message: `node.json (log: ${log})` })
  return { child, log: () => log }
}

/** The directory `npm exec --package <tgz>` installed into (npm cache's _npx/<hash>), found by the tarball's path. */
function npxInstallOf (tgz: string): string | undefined {
  const npx = join(process.env.npm_config_cache ?? join(homedir(), '.npm'), '_npx')
  for (const d of existsSync(npx) ? readdirSync(npx) : []) {
    const pj = join(npx, d, 'package.json')
    if (existsSync(pj) && readFileSync(pj, 'utf8').includes(tgz)) return join(npx, d)
  }
  return undefined
}

async function stopNode (child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.pid === undefined) return
  try { process.kill(-child.pid, 'SIGTERM') } catch { child.kill('SIGTERM') }
  await new Promise(resolve => { const t = setTimeout(resolve, 10_000); child.once('exit', () => { clearTimeout(t); resolve(undefined) }) })
}

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
  let tgz: string
  const nodes: ChildProcess[] = []

  before(async function () {
    this.timeout(150_000)
    tmp = mkdtempSync(join(tmpdir(), 'rc-pkg-'))
    app = join(tmp, 'app')
    mkdirSync(app)
    if (!existsSync(join(ROOT, 'dist/src/index.js'))) {
      const b = await npm(['run', 'build'], ROOT, 120_000)
      assert.equal(b.code, 0, b.stdout + b.stderr)
    }
    tgz = await packStaged(tmp)
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'rc-user', private: true, type: 'module' }))
    const inst = await npm(['install', '--omit=dev', '--ignore-scripts', ...NPM_FLAGS, tgz], app, 120_000)
    assert.equal(inst.code, 0, inst.stdout + inst.stderr)
    copyBinding(join(app, 'node_modules'))
    bin = join(app, 'node_modules/retire-cluster/bin/retire-cluster.js')
  })

  after(async () => {
    for (const n of nodes) await stopNode(n)
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true })
    // npm exec keeps what it installed under the npm cache (_npx/<hash>): drop ours
    const npxDir = tgz === undefined ? undefined : npxInstallOf(tgz)
    if (npxDir !== undefined) rmSync(npxDir, { recursive: true, force: true })
  })

  it('installs only what a node runs: the package (one bundle) and better-sqlite3 with what its install needs', () => {
    const nm = join(app, 'node_modules')
    for (const gone of ['typescript', 'tsx', 'mocha', 'esbuild', 'prom-client', 'playwright-core', '@libp2p', '@chainsafe', 'libp2p', 'msgpackr', 'msgpackr-extract', 'commander', 'yaml', '@types']) {
      assert.ok(!existsSync(join(nm, gone)), `${gone} installed`)
    }
    const pkg = join(nm, 'retire-cluster')
    assert.ok(existsSync(join(pkg, 'dist/src/index.d.ts')), 'types shipped')
    assert.ok(existsSync(join(pkg, 'dist/pkg/cli.js')) && existsSync(join(pkg, 'dist/pkg/index.html')), 'the bundle and the dashboard files shipped')
    assert.ok(!existsSync(join(pkg, 'dist/src/index.js')), "tsc's JavaScript is not shipped (the bundle replaces it)")
    // everything but better-sqlite3's own tree (its SQLite source and, after a source build, its objects)
    const rest = readdirSync(nm).filter(f => f !== 'better-sqlite3').reduce((n, f) => n + duBytes(join(nm, f)), 0)
    assert.ok(rest < 8 << 20, `node_modules without better-sqlite3: ${(rest / 2 ** 20).toFixed(1)} MB`)
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
    const { child, log } = await startNodeFrom([process.execPath, bin], dataDir, app)
    nodes.push(child)
    const sub = await run(process.execPath, [bin, 'submit', 'echo', '-p', '{"message":"from the tarball"}', '--wait', '--json', '--data-dir', dataDir], { cwd: app, timeoutMs: 60_000 })
    assert.equal(sub.code, 0, sub.stderr + log())
    const task = JSON.parse(sub.stdout) as { status: string, result: unknown }
    assert.equal(task.status, 'completed')
    assert.match(JSON.stringify(task.result), /from the tarball/)

    const ver = await npm(['exec', '--offline', '--', 'retire-cluster', '--version'], app, 30_000)
    assert.equal(ver.code, 0, ver.stderr)
    assert.match(ver.stdout, /\d+\.\d+\.\d+/)
    await stopNode(child)
  })

  it('`npm install -g` of the tarball: its bin starts a node; `npx` (npm exec --package) submits to it, and `npx retire-cluster start` runs a node', async function () {
    this.timeout(120_000)
    const prefix = join(tmp, 'global')
    const inst = await npm(['install', '-g', '--prefix', prefix, '--ignore-scripts', ...NPM_FLAGS, tgz], tmp, 90_000)
    assert.equal(inst.code, 0, inst.stdout + inst.stderr)
    copyBinding(join(prefix, 'lib/node_modules/retire-cluster/node_modules'))
    const globalBin = join(prefix, 'bin/retire-cluster')
    const dataDir = join(tmp, 'global-node')
    const { child, log } = await startNodeFrom([globalBin], dataDir, tmp)
    nodes.push(child)
    const listed = await run(globalBin, ['nodes', '--json', '--data-dir', dataDir], { cwd: tmp, timeoutMs: 30_000 })
    assert.equal(listed.code, 0, listed.stderr + log())
    assert.match(listed.stdout, /"id"/)

    // npx runs `npm exec`; a client command needs no SQLite binding, so npx's own install (no scripts) serves
    const npx = await npm(['exec', '--yes', '--ignore-scripts', ...NPM_FLAGS, '--package', tgz, '--', 'retire-cluster',
      'submit', 'echo', '-p', '{"message":"via npx"}', '--wait', '--json', '--data-dir', dataDir], tmp, 60_000)
    assert.equal(npx.code, 0, npx.stderr + log())
    const task = JSON.parse(npx.stdout) as { status: string, result: unknown }
    assert.equal(task.status, 'completed')
    assert.match(JSON.stringify(task.result), /via npx/)

    // `npx retire-cluster start` itself: npx's install (no scripts) given the binding, as above; --yes, as
    // npx needs it without a terminal whenever the package is a tarball (it checks it again each time)
    const npxDir = npxInstallOf(tgz)
    assert.ok(npxDir !== undefined, 'npm exec installed the tarball under the npm cache')
    copyBinding(join(npxDir, 'node_modules'))
    const npxData = join(tmp, 'npx-node')
    const started = await startNodeFrom(['npm', 'exec', '--yes', '--ignore-scripts', ...NPM_FLAGS, '--package', tgz, '--', 'retire-cluster'], npxData, tmp)
    nodes.push(started.child)
    const sub = await run(globalBin, ['submit', 'echo', '-p', '{"message":"to the npx node"}', '--wait', '--json', '--data-dir', npxData], { cwd: tmp, timeoutMs: 60_000 })
    assert.equal(sub.code, 0, sub.stderr + started.log())
    assert.match(sub.stdout, /to the npx node/)
  })
})
