// Sizes around every submit limit, through every public path, on 3 real nodes (libp2p on 127.0.0.1,
// sqlite in a temp dir): a single task, a batch and a workflow just below, at and just above each
// cap (payload bytes, task type / key / name lengths, batch size, workflow steps), submitted through
// the library API on the leader and on a follower, the TS client, raw HTTP, the TS client's
// submission stream (POST /v1/tasks/stream; single tasks only) and the CLI binary.
// Each one must be either applied on every node or refused to its caller at once with a typed
// error — never committed and then skipped (issue 16: a 1,500-step workflow was). At the end no
// node has halted and every node has applied everything committed.
//
// The tasks have a type no node handles, so they stay pending: this test is about the log, not
// about execution, and 30,000 tasks running would only cost time.
process.env.RC_CLI_FROM_SOURCE ??= '1' // the CLI under test is this source tree, not an older dist build

import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalCluster, type LocalCluster } from '../helpers/local-cluster.js'
import { eventually } from '../helpers/eventually.js'
import { ApiClient, ApiClientError } from '../../src/node/api/client.js'
import type { SubmitStream } from '../../src/node/api/submit-stream.js'
import { NodeError } from '../../src/node/errors.js'
import { SchedError } from '../../src/sched/errors.js'
import type { ClusterNode } from '../../src/node/api-types.js'
import {
  MAX_BATCH_TASKS, MAX_KEY_LENGTH, MAX_NAME_LENGTH, MAX_TASK_PAYLOAD_BYTES, MAX_TASK_TYPE_LENGTH, MAX_WORKFLOW_STEPS
} from '../../src/protocol/limits.js'
import { runCli } from '../e2e/cli-runner.js'

type Spec = Record<string, unknown>
type Outcome = { ok: true, ids: string[], id?: string } | { ok: false, type: string, message: string }
type Kind = 'task' | 'batch' | 'workflow'

interface Path {
  name: string
  task: (spec: Spec, key?: string) => Promise<Outcome>
  batch: (b: Spec) => Promise<Outcome>
  workflow: (w: Spec) => Promise<Outcome>
}

/** `paths`: default every in-process path; the CLI (a process start each, seconds on a busy machine) where `cli` is set */
interface Case { kind: Kind, label: string, expect: 'accept' | 'refuse', body: () => Spec, keyLength?: number, paths?: string[], cli?: boolean, count?: number }
const IN_PROCESS = ['library-leader', 'library-follower', 'client', 'http', 'stream']

const TYPE = 'limits_probe' // no node has a handler: tasks stay pending
const task = (payload: unknown = { n: 1 }, type = TYPE): Spec => ({ task_type: type, payload })
/** a payload whose JSON size is exactly `bytes` (a string: JSON adds the two quotes) */
const payloadOf = (bytes: number): string => 'x'.repeat(bytes - 2)
const batchOf = (n: number, name = 'limits'): Spec => ({ name, tasks: Array.from({ length: n }, (_, i) => task({ i })) })
const workflowOf = (steps: number, stepName = (i: number) => `s${i}`, name = 'limits-wf'): Spec => ({
  name,
  steps: Array.from({ length: steps }, (_, i) => ({ name: stepName(i), task: task({ i }), dependsOn: i === 0 ? [] : [stepName(i - 1)] }))
})

const CASES: Case[] = [
  // single task
  { kind: 'task', label: 'payload just below the cap', expect: 'accept', body: () => task(payloadOf(MAX_TASK_PAYLOAD_BYTES - 1)), paths: ['library-leader', 'http'], cli: true },
  { kind: 'task', label: 'payload at the cap', expect: 'accept', body: () => task(payloadOf(MAX_TASK_PAYLOAD_BYTES)), paths: ['library-follower', 'client'] },
  { kind: 'task', label: 'payload just above the cap', expect: 'refuse', body: () => task(payloadOf(MAX_TASK_PAYLOAD_BYTES + 1)) },
  { kind: 'task', label: 'task type below/at the cap', expect: 'accept', body: () => task({}, 'T'.repeat(MAX_TASK_TYPE_LENGTH)) },
  { kind: 'task', label: 'task type just above the cap', expect: 'refuse', body: () => task({}, 'T'.repeat(MAX_TASK_TYPE_LENGTH + 1)), cli: true },
  { kind: 'task', label: 'idempotency key at the cap', expect: 'accept', body: () => task(), keyLength: MAX_KEY_LENGTH },
  { kind: 'task', label: 'idempotency key just above the cap', expect: 'refuse', body: () => task(), keyLength: MAX_KEY_LENGTH + 1 },
  // batch
  { kind: 'batch', label: 'batch just below the cap', expect: 'accept', body: () => batchOf(MAX_BATCH_TASKS - 1), paths: ['client'], count: MAX_BATCH_TASKS - 1 },
  { kind: 'batch', label: 'batch at the cap', expect: 'accept', body: () => batchOf(MAX_BATCH_TASKS), paths: ['library-leader', 'http'], count: MAX_BATCH_TASKS },
  { kind: 'batch', label: 'batch just above the cap', expect: 'refuse', body: () => batchOf(MAX_BATCH_TASKS + 1), cli: true },
  { kind: 'batch', label: 'batch name at the cap', expect: 'accept', body: () => batchOf(3, 'n'.repeat(MAX_NAME_LENGTH)), cli: true, count: 3 },
  { kind: 'batch', label: 'batch name just above the cap', expect: 'refuse', body: () => batchOf(3, 'n'.repeat(MAX_NAME_LENGTH + 1)) },
  // workflow
  { kind: 'workflow', label: 'workflow just below the step cap', expect: 'accept', body: () => workflowOf(MAX_WORKFLOW_STEPS - 1), paths: ['library-follower', 'http'], count: MAX_WORKFLOW_STEPS - 1 },
  { kind: 'workflow', label: 'workflow at the step cap', expect: 'accept', body: () => workflowOf(MAX_WORKFLOW_STEPS), paths: ['library-leader', 'client'], cli: true, count: MAX_WORKFLOW_STEPS },
  { kind: 'workflow', label: 'workflow just above the step cap', expect: 'refuse', body: () => workflowOf(MAX_WORKFLOW_STEPS + 1) },
  { kind: 'workflow', label: 'workflow of 1,500 steps (the reported one)', expect: 'refuse', body: () => workflowOf(1500), paths: ['library-leader', 'library-follower', 'http'] },
  { kind: 'workflow', label: 'step name at the cap', expect: 'accept', body: () => workflowOf(2, i => `${i}`.padEnd(MAX_NAME_LENGTH, 's')), count: 2 },
  { kind: 'workflow', label: 'step name just above the cap', expect: 'refuse', body: () => workflowOf(2, i => `${i}`.padEnd(MAX_NAME_LENGTH + 1, 's')), cli: true },
  { kind: 'workflow', label: 'workflow name just above the cap', expect: 'refuse', body: () => workflowOf(2, i => `s${i}`, 'w'.repeat(MAX_NAME_LENGTH + 1)) }
]

function refusedBy (err: unknown): Outcome {
  if (err instanceof NodeError || err instanceof ApiClientError || err instanceof SchedError) return { ok: false, type: err.type, message: err.message }
  throw err // anything else (a timeout, a crash) is not a clear refusal
}

function libraryPath (name: string, node: () => ClusterNode): Path {
  return {
    name,
    task: async (spec, key) => await node().scheduler.submitTask(spec, key === undefined ? {} : { idempotencyKey: key }).then(id => ({ ok: true as const, ids: [id] }), refusedBy),
    batch: async b => await node().scheduler.submitBatch(b).then(r => ({ ok: true as const, ids: r.taskIds, id: r.id }), refusedBy),
    workflow: async w => await node().scheduler.submitWorkflow(w).then(r => ({ ok: true as const, ids: r.taskIds, id: r.id }), refusedBy)
  }
}

function clientPath (client: ApiClient): Path {
  return {
    name: 'client',
    task: async (spec, key) => await client.submitTask(spec, key === undefined ? {} : { idempotencyKey: key }).then(id => ({ ok: true as const, ids: [id] }), refusedBy),
    batch: async b => await client.submitBatch(b as never).then(r => ({ ok: true as const, ids: r.taskIds, id: r.id }), refusedBy),
    workflow: async w => await client.submitWorkflow(w).then(r => ({ ok: true as const, ids: r.taskIds, id: r.id }), refusedBy)
  }
}

/** one task per line of POST /v1/tasks/stream, through ApiClient.openSubmissions (it takes no batches or workflows) */
function streamPath (submissions: SubmitStream): Path {
  const none = async (): Promise<Outcome> => { throw new Error('the submission stream takes single tasks only') }
  return {
    name: 'stream',
    task: async (spec, key) => await submissions.submit(spec, key === undefined ? {} : { idempotencyKey: key }).then(id => ({ ok: true as const, ids: [id] }), refusedBy),
    batch: none,
    workflow: none
  }
}

function httpPath (url: string, token: string): Path {
  const post = async (route: string, body: unknown, headers: Record<string, string> = {}): Promise<Outcome> => {
    const res = await fetch(`${url}${route}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
    const json = await res.json() as { id: string, taskIds?: string[], error?: { type: string, message: string } }
    if (res.ok) return { ok: true, ids: json.taskIds ?? [json.id], id: json.id }
    assert.ok(res.status >= 400 && res.status < 500, `HTTP ${res.status}: a refusal is a 4xx (${JSON.stringify(json).slice(0, 200)})`)
    return { ok: false, type: json.error!.type, message: json.error!.message }
  }
  return {
    name: 'http',
    task: async (spec, key) => await post('/v1/tasks', spec, key === undefined ? {} : { 'idempotency-key': key }),
    batch: async b => await post('/v1/batches', b),
    workflow: async w => await post('/v1/workflows', w)
  }
}

function cliPath (dataDir: string, tmp: string): Path {
  let n = 0
  const run = async (args: string[], body: Spec): Promise<Outcome> => {
    const file = join(tmp, `in-${++n}.json`)
    writeFileSync(file, JSON.stringify(body))
    const r = await runCli([...args.map(a => a === '@' ? file : a), '--json', '--data-dir', dataDir], { timeoutMs: 60_000 })
    if (r.code === 0) {
      const out = JSON.parse(r.stdout) as { id: string, taskIds?: string[] }
      return { ok: true, ids: out.taskIds ?? [out.id], id: out.id }
    }
    assert.match(r.stderr.trim(), /^error: /, `a refusal is one clear line: ${r.stderr.slice(0, 300)}`)
    return { ok: false, type: 'cli', message: r.stderr.trim() }
  }
  return {
    name: 'cli',
    task: async (spec, key) => await run(['submit', '--file', '@', ...(key === undefined ? [] : ['--idempotency-key', key])], spec),
    batch: async b => await run(['batch', '@', '--no-wait'], b),
    workflow: async w => await run(['workflow', '@', '--no-wait'], w)
  }
}

describe('limits: every public submit path, sizes around every cap (3 real nodes)', function () {
  this.timeout(180_000)
  let c: LocalCluster
  let tmp: string
  let paths: Path[]
  let submissions: SubmitStream | undefined
  const results: string[] = []

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'rc-limits-'))
    c = await startLocalCluster(3, () => ({}), { api: { host: '127.0.0.1', port: 0 }, writeDeadlineMs: 20_000 })
    const leader = (): ClusterNode => c.leader()
    const follower = (): ClusterNode => c.followers()[0]!
    const f2 = c.followers()[1]!
    const l = c.leader()
    submissions = await (await ApiClient.fromDataDir(f2.dataDir)).openSubmissions()
    paths = [
      libraryPath('library-leader', leader),
      libraryPath('library-follower', follower),
      clientPath(await ApiClient.fromDataDir(c.followers()[0]!.dataDir)),
      httpPath(l.apiUrl()!, readFileSync(join(l.dataDir, 'api-token'), 'utf8').trim()),
      cliPath(f2.dataDir, tmp),
      streamPath(submissions)
    ]
  })
  after(async () => {
    submissions?.destroy()
    await c?.stop()
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true })
    if (results.length > 0) console.log(`      ${results.length} submissions:\n      ${results.join('\n      ')}`)
  })

  for (const kind of ['task', 'batch', 'workflow'] as const) {
    it(`${kind}: each size is applied on every node or refused at once with a typed error`, async () => {
      for (const cs of CASES.filter(x => x.kind === kind)) {
        for (const p of paths.filter(x => ((cs.paths ?? IN_PROCESS).includes(x.name) || (x.name === 'cli' && cs.cli === true)) && (x.name !== 'stream' || kind === 'task'))) {
          const key = cs.keyLength === undefined ? undefined : `${p.name}:`.padEnd(cs.keyLength, 'k') // unique per path
          const t0 = Date.now()
          const out = kind === 'task' ? await p.task(cs.body(), key) : kind === 'batch' ? await p.batch(cs.body()) : await p.workflow(cs.body())
          const ms = Date.now() - t0
          const what = `${kind} ${cs.label} via ${p.name}`
          results.push(`${what}: ${out.ok ? `applied (${out.ids.length} task${out.ids.length === 1 ? '' : 's'})` : `refused [${out.type}] ${out.message.slice(0, 110)}`} in ${ms} ms`)
          if (cs.expect === 'refuse') {
            assert.equal(out.ok, false, `${what} was accepted`)
            if (!out.ok) {
              assert.ok(out.message.length > 0)
              if (p.name !== 'cli') assert.ok(['invalid_payload', 'payload_too_large'].includes(out.type), `${what}: type ${out.type}`)
            }
            // at once: well before the write deadline (20 s); the CLI's own start takes seconds here
            assert.ok(ms < (p.name === 'cli' ? 15_000 : 8000), `${what} took ${ms} ms to be refused`)
            continue
          }
          assert.ok(out.ok, `${what} was refused: ${out.ok ? '' : out.message}`)
          if (!out.ok) continue
          if (cs.count !== undefined) assert.equal(out.ids.length, cs.count)
          await appliedEverywhere(c.nodes, kind, out, cs.count)
        }
      }
    })
  }

  it('no node halted, and every node applied everything committed', async () => {
    await eventually(() => {
      const st = c.nodes.map(n => n.raftStatus())
      for (const s of st) assert.equal(s.halted, undefined, `a node halted: ${JSON.stringify(s.halted)}`)
      const commit = Math.max(...st.map(s => s.commitIndex))
      return st.every(s => s.appliedIndex === commit)
    }, { timeoutMs: 20_000, message: 'every node applied the whole log' })
  })
})

async function appliedEverywhere (nodes: ClusterNode[], kind: Kind, out: { ids: string[], id?: string }, count?: number): Promise<void> {
  await eventually(async () => {
    for (const n of nodes) {
      assert.equal(n.raftStatus().halted, undefined, `${n.name} halted`)
      if (kind === 'batch') {
        const p = await n.scheduler.getBatchProgress(out.id!).catch(() => undefined)
        if (p?.total !== count) return false
      } else if (kind === 'workflow') {
        const w = await n.scheduler.getWorkflowStatus(out.id!).catch(() => undefined)
        if (w?.steps.length !== count) return false
      }
      for (const id of [out.ids[0]!, out.ids[out.ids.length - 1]!]) {
        if (await n.scheduler.getTaskStatus(id) === undefined) return false
      }
    }
    return true
  }, { timeoutMs: 20_000, intervalMs: 50, message: `${kind} ${out.id ?? out.ids[0]} applied on every node` })
}
