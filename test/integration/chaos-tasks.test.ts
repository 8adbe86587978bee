// Chaos: per-task failure handling with real node processes on loopback (3 nodes; deviceTimeout
// 15 s so a stopped worker is expired by the leader's timeout check before it is declared down).
// Retry backoff timings against the RetryPolicy, non-retryable errors, cancelling a running task
// (the process is killed, the late result is stale), timeout_seconds enforced by the worker and, when
// the worker vanishes, by the leader. Needs the build: npx tsc -p tsconfig.json
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NodeProc } from '../../scripts/lib/proc-cluster.js'
import { DEFAULT_RETRY_POLICY } from '../../src/sched/retry.js'
import { api, chaosCluster, killAll, leaderOf } from '../fixtures/chaos/helpers.js'
import { eventually } from '../helpers/eventually.js'

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout'])

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

describe('chaos: retries, cancel and timeouts (3 node processes)', function () {
  this.timeout(60_000)
  let procs: NodeProc[] = []
  let leader: NodeProc
  let workers: NodeProc[]
  let tmp: string

  before(async function () {
    this.timeout(90_000)
    tmp = mkdtempSync(join(tmpdir(), 'rc-chaos-pids-'))
    procs = await chaosCluster({ nodes: 3, tag: 'tasks', deviceTimeoutMs: 15_000 })
    leader = await leaderOf(procs)
    workers = procs.filter(p => p !== leader)
  })
  after(async () => {
    await killAll(procs)
    rmSync(tmp, { recursive: true, force: true })
  })

  /** requirements that pin a task to one device (every other device excluded) */
  function pinnedTo (p: NodeProc, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { exclude_devices: procs.filter(x => x !== p).map(x => x.peerId), ...extra }
  }

  async function submit (spec: Record<string, unknown>): Promise<string> {
    return (await api<{ id: string }>(workers[0]!, 'POST', '/v1/tasks', spec)).id
  }

  async function task (id: string): Promise<any> { return await api(leader, 'GET', `/v1/tasks/${id}`) }

  async function until (id: string, pred: (t: any) => boolean, timeoutMs: number, what: string): Promise<any> {
    return await eventually(async () => { const t = await task(id); return pred(t) ? t : false }, { timeoutMs, intervalMs: 25, message: `${id}: ${what}` })
  }

  it('a retryable error (network_error) is retried with exponential backoff; the final failure keeps every attempt\'s error', async () => {
    const maxRetries = 2
    const id = await submit({ task_type: 'flaky_net', payload: { peer: 'p1' }, requirements: { max_retries: maxRetries } })
    const t = await until(id, x => TERMINAL.has(x.status), 20_000, 'final failure')
    assert.equal(t.status, 'failed')
    assert.equal(t.error.type, 'network_error')
    assert.equal(t.attempts.length, maxRetries + 1, 'first attempt plus max_retries retries')
    assert.equal(t.task.retryCount, maxRetries)
    const messages = new Set<string>()
    const gaps: number[] = []
    t.attempts.forEach((a: any, i: number) => {
      assert.equal(a.status, 'failed', `attempt ${i + 1}`)
      assert.equal(a.error?.type, 'network_error', `attempt ${i + 1} keeps its error`)
      messages.add(a.error.message)
      if (i === 0) return
      // the retry is due notBefore = (when the failure committed) + nextDelay(i-1); the leader
      // places it on its next plan round after that (every 100 ms)
      const delayMs = DEFAULT_RETRY_POLICY.nextDelay(i - 1) * 1000
      const gap = a.assignedAt - t.attempts[i - 1].finishedAt
      gaps.push(gap)
      assert.ok(gap >= delayMs, `attempt ${i + 1} assigned ${gap} ms after attempt ${i} failed, before the ${delayMs} ms backoff`)
      assert.ok(gap <= delayMs + 1000, `attempt ${i + 1} assigned ${gap} ms after attempt ${i} failed: backoff ${delayMs} ms`)
    })
    assert.equal(messages.size, maxRetries + 1, 'each attempt has its own error')
    assert.ok(t.notBefore >= t.attempts[maxRetries - 1].finishedAt + DEFAULT_RETRY_POLICY.nextDelay(maxRetries - 1) * 1000)
    console.log(`      [figure] network_error retries: backoff gaps ${gaps.join(' ms, ')} ms (policy: ${[0, 1].map(n => DEFAULT_RETRY_POLICY.nextDelay(n) * 1000).join(' ms, ')} ms)`)
  })

  it('a non-retryable error (invalid_payload) fails at once, with no retry', async () => {
    const t0 = Date.now()
    const id = await submit({ task_type: 'bad_input', payload: {}, requirements: { max_retries: 3 } })
    const t = await until(id, x => TERMINAL.has(x.status), 10_000, 'failure')
    const ms = Date.now() - t0
    assert.equal(t.status, 'failed')
    assert.equal(t.error.type, 'invalid_payload')
    assert.equal(t.attempts.length, 1)
    assert.equal(t.task.retryCount, 0)
    assert.equal(t.notBefore, undefined)
    assert.ok(ms < 2000, `failed after ${ms} ms`)
  })

  it('cancel a running sleep task: cancelled at once, the worker stops it, its late result is stale', async () => {
    const w = workers[0]!
    const id = await submit({ task_type: 'sleep', payload: { duration: 30 }, requirements: pinnedTo(w) })
    await until(id, x => x.status === 'running', 10_000, 'running')
    const t0 = Date.now()
    const res = await leader.api('DELETE', `/v1/tasks/${id}`)
    const ms = Date.now() - t0
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.status, 'cancelled')
    console.log(`      [figure] cancel of a running sleep: status cancelled in ${ms} ms`)
    assert.ok(ms < 1000)
    const t = await until(id, x => (x.staleResults ?? 0) >= 1, 5000, 'the worker reports the stopped attempt (stale)')
    assert.equal(t.status, 'cancelled')
    assert.equal(t.attempts[0].status, 'cancelled')
    // the worker no longer runs it
    const running = await api<any[]>(leader, 'GET', `/v1/tasks?status=running&device=${w.peerId}`)
    assert.ok(!running.some(x => x.id === id))
  })

  it('cancel a running task in its own process: the process is killed', async () => {
    const w = workers[1]!
    const pidFile = join(tmp, 'cancel.pid')
    const id = await submit({ task_type: 'pid_sleep', payload: { duration: 30, pidFile }, requirements: pinnedTo(w) })
    // the file can exist before its pid is written (a run read it empty: pid 0, which kill(0, 0)
    // reports alive for good, as the caller's own process group)
    const written = (): number => existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0
    await until(id, x => x.status === 'running' && written() > 0, 15_000, 'running with its pid written')
    const pid = written()
    assert.ok(alive(pid), 'the task process runs')
    const t0 = Date.now()
    const res = await leader.api('DELETE', `/v1/tasks/${id}`)
    assert.equal(res.body.status, 'cancelled')
    await eventually(() => !alive(pid), { timeoutMs: 5000, message: `task process ${pid} still alive after cancel` })
    console.log(`      [figure] cancel of a running pid_sleep: process ${pid} gone ${Date.now() - t0} ms after the cancel`)
    const t = await until(id, x => (x.staleResults ?? 0) >= 1, 5000, 'late result recorded stale')
    assert.equal(t.status, 'cancelled')
  })

  it('timeout_seconds is enforced by the worker: status timeout, process killed', async () => {
    const w = workers[0]!
    const pidFile = join(tmp, 'timeout.pid')
    const id = await submit({ task_type: 'pid_sleep', payload: { duration: 30, pidFile }, requirements: { ...pinnedTo(w), timeout_seconds: 1, max_retries: 0 } })
    const t = await until(id, x => TERMINAL.has(x.status), 15_000, 'timed out')
    assert.equal(t.status, 'timeout')
    assert.equal(t.error.type, 'timeout_error')
    assert.match(t.error.message, /time limit/)
    const a = t.attempts[0]
    const ran = a.finishedAt - a.startedAt
    assert.ok(ran >= 1000 && ran < 3000, `ran ${ran} ms for a 1 s limit`)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    await eventually(() => !alive(pid), { timeoutMs: 3000, message: `timed-out process ${pid} still alive` })
  })

  it('timeout_seconds is enforced by the leader when the worker vanishes (SIGSTOP)', async () => {
    const w = workers[1]!
    const id = await submit({ task_type: 'sleep', payload: { duration: 30 }, requirements: { ...pinnedTo(w), timeout_seconds: 2, max_retries: 0 } })
    await until(id, x => x.status === 'running', 10_000, 'running')
    w.signal('SIGSTOP')
    const stopAt = Date.now()
    let t: any
    try {
      t = await until(id, x => TERMINAL.has(x.status), 15_000, 'expired by the leader')
    } finally {
      w.signal('SIGCONT')
    }
    console.log(`      [figure] worker SIGSTOPped: leader expired the 2 s task ${Date.now() - stopAt} ms after the stop (${t.finishedAt - t.attempts[0].startedAt} ms after it started)`)
    assert.equal(t.status, 'timeout')
    assert.equal(t.error.type, 'timeout_error')
    assert.match(t.error.message, /did not report within its timeout/)
    // resumed, the worker's own timeout fires and its report is stale
    const after = await until(id, x => (x.staleResults ?? 0) >= 1, 10_000, 'late worker report stale')
    assert.equal(after.status, 'timeout')
    assert.equal(after.error.message, t.error.message, 'the outcome did not change')
  })
})
