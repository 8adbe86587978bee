// How long a fresh single node takes from process start to leader, and to its first task done
// (issue 17). Each run: `node bin/retire-cluster.js start` on a new empty data dir (127.0.0.1, mDNS
// as given), poll GET /v1/status until this node leads, then POST one echo task and poll it.
//
//   node scripts/startup-time.mjs [--runs N] [--repo DIR] [-- extra start flags, e.g. --no-mdns]
//
// Prints one JSON line per run and the medians. --repo runs another checkout's bin (a before/after
// comparison: interleave the two, the machine's load moves a lot between runs). The installed
// package runs its bundle (dist/pkg); a checkout runs tsc's dist/src unless `node scripts/bundle.mjs`
// made dist/pkg (remove it after with --clean).
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const argv = process.argv.slice(2)
const dash = argv.indexOf('--')
const own = dash < 0 ? argv : argv.slice(0, dash)
const extra = dash < 0 ? [] : argv.slice(dash + 1)
const opt = (name, dflt) => { const i = own.indexOf(name); return i < 0 ? dflt : own[i + 1] }
const runs = Number(opt('--runs', '5'))
const repo = resolve(opt('--repo', fileURLToPath(new URL('..', import.meta.url))))
/** a run that has not led within this long is reported as such */
const RUN_TIMEOUT_MS = 20_000
/** poll period: small against the figures measured (hundreds of ms) */
const POLL_MS = 5

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function once () {
  const dir = mkdtempSync(join(tmpdir(), 'rc-startup-'))
  const t0 = performance.now()
  const child = spawn(process.execPath, [join(repo, 'bin/retire-cluster.js'), 'start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn', ...extra], { stdio: 'ignore' })
  const r = {}
  let api, headers, taskId
  try {
    while (performance.now() - t0 < RUN_TIMEOUT_MS && r.firstTaskDoneMs === undefined) {
      try {
        if (api === undefined && existsSync(join(dir, 'api-token'))) {
          api = JSON.parse(readFileSync(join(dir, 'node.json'), 'utf8')).apiUrl
          headers = { authorization: `Bearer ${readFileSync(join(dir, 'api-token'), 'utf8').trim()}`, 'content-type': 'application/json' }
          r.apiMs = Math.round(performance.now() - t0)
        }
        if (api !== undefined && r.leaderMs === undefined) {
          const s = await (await fetch(`${api}/v1/status`, { headers })).json()
          if (s.raft?.role === 'leader') r.leaderMs = Math.round(performance.now() - t0)
        }
        if (r.leaderMs !== undefined && taskId === undefined) {
          const res = await fetch(`${api}/v1/tasks`, { method: 'POST', headers, body: JSON.stringify({ task_type: 'echo', payload: { n: 1 } }) })
          if (res.ok) taskId = (await res.json()).id
        }
        if (taskId !== undefined) {
          const t = await (await fetch(`${api}/v1/tasks/${taskId}`, { headers })).json()
          if (t.status === 'completed') r.firstTaskDoneMs = Math.round(performance.now() - t0)
        }
      } catch { /* not up yet */ }
      await sleep(POLL_MS)
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise(resolve => child.once('exit', resolve))
    rmSync(dir, { recursive: true, force: true })
  }
  return r
}

const all = []
for (let i = 0; i < runs; i++) {
  const r = await once()
  all.push(r)
  console.log(JSON.stringify(r))
}
const median = k => { const v = all.map(r => r[k]).filter(x => x !== undefined).sort((a, b) => a - b); return v.length === 0 ? 'n/a' : v[v.length >> 1] }
console.log(`median of ${runs}: API up ${median('apiMs')} ms, leader ${median('leaderMs')} ms, first task done ${median('firstTaskDoneMs')} ms`)
