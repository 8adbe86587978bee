// The golden transcript's command stream (test/unit/state-golden.test.ts), shared with the tests
// that replay it for other checks (state-transitions.test.ts): a seeded, plausible cluster history
// over every command family, some commands deliberately stale or bogus, with snapshot+restore at
// random points. Changing what it draws changes the golden file: re-record it on purpose only.
import { ClusterState } from '../../src/sched/state-machine.js'
import { mulberry32, type Rng } from '../../src/sched/rng.js'
import { newTaskId } from '../../src/sched/ids.js'
import { chainSteps } from '../../src/sched/workflow.js'
import type { ApplyOutcome, AttemptResult, Command, TaskRecord } from '../../src/sched/commands.js'
import type { TaskData } from '../../src/sched/types.js'
import { T0, task } from './state-fixtures.js'

export const DEVICES = ['d1', 'd2', 'd3', 'd4']
const PRINCIPALS = ['alice', 'bob', 'carol', 'admin:ops', 'local-admin']

interface Checkpoint { step: number, state: string, outcomes: string, tasks: number, counts: Record<string, number> }
interface Golden { checkpoints: Record<string, Checkpoint[]>, tally: Record<string, number> }

export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]
export const chance = (rng: Rng, p: number): boolean => rng() < p

/** JSON with object keys sorted: a record built in another property order hashes the same. */
export function canonical (v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x instanceof Map) return { $map: [...x] }
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return x
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(x).sort()) out[k] = (x as Record<string, unknown>)[k]
    return out
  })
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16)

/** Everything a reader of the state can see: the snapshot plus what the queries answer. */
function stateView (st: ClusterState, at: number, batchIds: string[], workflowIds: string[], evicted: string[]): unknown {
  return {
    snapshot: st.snapshot(),
    counts: st.counts,
    size: st.size,
    readySize: st.readySize,
    ready: st.pendingInOrder(at).map(r => r.id),
    readyLater: st.pendingInOrder(at + 3_600_000).map(r => r.id),
    newest: st.listTasks({ order: 'newest', limit: 20 }).map(r => r.id),
    running: st.listTasks({ status: 'running' }).map(r => r.id),
    onDevices: DEVICES.map(d => [d, st.runningOn(d).map(r => r.id), st.runningCount(d), st.listTasks({ deviceId: d, status: 'queued' }).map(r => r.id)]),
    devicesWithTasks: st.devicesWithTasks(),
    inflight: st.inflightByDevice(),
    stats: st.queueStatistics(at),
    batches: batchIds.map(id => [id, st.batchProgress(id) ?? null, st.batchTaskIds(id) ?? null]),
    workflows: workflowIds.map(id => st.workflowStatus(id) ?? null),
    latest: st.listTasks({ limit: 30 }).map(r => st.latest(r.id)?.id),
    staged: st.stagedBatches(),
    settings: st.clusterSettings(),
    retention: [st.retentionMs, st.maxQueueSize, st.rateLimits ?? null],
    candidates: st.evictionCandidates(at, 50),
    evicted: evicted.map(id => st.wasEvicted(id)),
    roles: PRINCIPALS.concat(['viewer:v']).map(p => st.roleOf(p))
  }
}

/** The recorded command stream: a plausible cluster history, some commands deliberately stale or bogus. */
export class Transcript {
  private n = 0
  private readonly batchIds: string[] = []
  private readonly workflowIds: string[] = []
  private readonly evicted: string[] = []
  /** a chunked batch being sent: its tasks per chunk and the next chunk to send */
  private chunked: { id: string, chunks: TaskData[][], next: number, principal: string } | undefined
  private lastCandidates: Command | undefined

  constructor (private readonly rng: Rng) {}

  views (st: ClusterState, at: number): unknown { return stateView(st, at, this.batchIds, this.workflowIds, this.evicted) }

  next (st: ClusterState, at: number): Command {
    const rng = this.rng
    const n = ++this.n
    const all = st.listTasks()
    const r = rng()
    if (r < 0.20 || all.length === 0) return this.submit(st, n, at)
    if (r < 0.34) return this.assign(st, at)
    // mostly a task in flight (so results, expiries and refusals land), sometimes any task (stale)
    const live = st.activeTasks()
    const t: TaskRecord = live.length > 0 && chance(rng, 0.75) ? pick(rng, live) : pick(rng, all)
    const cur = t.attempts.length
    const dev = t.deviceId ?? pick(rng, DEVICES)
    if (r < 0.42) return { type: 'started', at, taskId: t.id, attempt: chance(rng, 0.9) ? cur : cur + 1, deviceId: chance(rng, 0.9) ? dev : pick(rng, DEVICES) }
    if (r < 0.64) return { type: 'finished', at, results: this.results(st, t, at) }
    if (r < 0.68) return { type: 'refused', at, taskId: t.id, attempt: cur, deviceId: dev, reason: 'no free slot' }
    if (r < 0.72) return { type: 'expire', at, taskId: t.id, attempt: chance(rng, 0.85) ? cur : cur + 1 }
    if (r < 0.76) return { type: 'cancel', at, taskId: chance(rng, 0.95) ? t.id : 'no-such-task', principal: pick(rng, PRINCIPALS.concat(['viewer:v'])) }
    if (r < 0.775) return { type: 'deviceDown', at, deviceId: pick(rng, DEVICES) }
    if (r < 0.85) return this.handoff(st, at)
    if (r < 0.88) return this.roleOrSettings(at)
    if (r < 0.97) return this.evict(st, at)
    if (r < 0.98) return pick(rng, [{ type: 'nope', at }, { type: 'finished', at, results: 'x' }, { type: 'assign', at, assignments: [null] }] as unknown as Command[])
    return { type: 'settings', at, by: 'local-admin', settings: { retentionMs: pick(rng, [20_000, 90_000, null]) } }
  }

  private newTask (n: number, i: number, at: number, prefix = 't'): TaskData {
    const rng = this.rng
    const id = chance(rng, 0.3) ? newTaskId(at, rng) : `${prefix}${n}.${i}`
    const over: Parameters<typeof task>[1] = {
      priority: 1 + Math.floor(rng() * 5) as TaskData['priority'],
      req: { maxRetries: Math.floor(rng() * 3), ...(chance(rng, 0.15) ? { resultTtlSeconds: pick(rng, [5, 40, 600]) } : {}), ...(chance(rng, 0.1) ? { excludeDevices: [pick(rng, DEVICES)] } : {}) }
    }
    if (chance(rng, 0.1)) over.idempotencyKey = `k${Math.floor(rng() * 12)}`
    return task(id, over)
  }

  private submit (st: ClusterState, n: number, at: number): Command {
    const rng = this.rng
    const principal = pick(rng, ['alice', 'alice', 'bob', 'carol', 'viewer:v'])
    const base = { type: 'submit' as const, requestId: chance(rng, 0.06) ? `q-repeat${n % 3}` : `q${n}`, principal, at }
    const kind = rng()
    if (this.chunked !== undefined && kind < 0.5) {
      const c = this.chunked
      const index = chance(rng, 0.9) ? c.next : Math.floor(rng() * c.chunks.length)
      if (index === c.chunks.length - 1) this.chunked = undefined
      else c.next = index + 1
      return { ...base, principal: c.principal, tasks: c.chunks[index], batch: { id: c.id, name: 'chunked' }, chunk: { index, count: c.chunks.length } }
    }
    if (kind < 0.10 && this.chunked === undefined) {
      const id = `cb${n}`
      const chunks = Array.from({ length: 2 + Math.floor(rng() * 2) }, (_, k) => Array.from({ length: 1 + Math.floor(rng() * 2) }, (_, i) => this.newTask(n, k * 10 + i, at, 'c')))
      this.chunked = { id, chunks, next: 1, principal: 'alice' }
      this.batchIds.push(id)
      return { ...base, principal: 'alice', tasks: chunks[0], batch: { id, name: 'chunked' }, chunk: { index: 0, count: chunks.length } }
    }
    if (kind < 0.22) {
      const id = `w${n}`
      this.workflowIds.push(id)
      return {
        ...base, tasks: [], workflow: { id, name: id, steps: [
          { name: 'a', task: this.newTask(n, 0, at, 'w'), dependsOn: [] },
          { name: 'b', task: task(`w${n}b`, { payload: { x: '{{steps.a.result}}' }, req: { maxRetries: 1 } }), dependsOn: ['a'] },
          { name: 'c', task: task(`w${n}c`), dependsOn: ['a'] },
          { name: 'd', task: task(`w${n}d`, { payload: { y: '{{prev.result}}' } }), dependsOn: ['b', 'c'] }
        ] }
      }
    }
    if (kind < 0.32) {
      const id = `ch${n}`
      this.workflowIds.push(id)
      const tasks = [0, 1, 2].map(i => i === 0 ? this.newTask(n, i, at, 'ch') : task(`ch${n}.${i}`, { payload: { prev: '{{prev.result}}' } }))
      return { ...base, tasks: [], workflow: { id, name: 'chain', steps: chainSteps(tasks) } }
    }
    if (kind < 0.55) {
      const id = chance(rng, 0.1) && this.batchIds.length > 0 ? pick(rng, this.batchIds) : `b${n}`
      if (!this.batchIds.includes(id)) this.batchIds.push(id)
      const tasks = Array.from({ length: 2 + Math.floor(rng() * 3) }, (_, i) => this.newTask(n, i, at))
      return { ...base, tasks, batch: { id, name: 'batch', description: 'golden' } }
    }
    if (kind < 0.58) return { ...base, tasks: chance(rng, 0.5) ? [] : [{ ...task(`bad${n}`), priority: 9 as TaskData['priority'] }] }
    if (kind < 0.62 && st.size > 0) {
      // resubmit an existing id (a duplicate), alone or with a new one
      const old = pick(rng, st.listTasks({ limit: 40 })).task
      return { ...base, tasks: chance(rng, 0.5) ? [old] : [old, this.newTask(n, 1, at)] }
    }
    return { ...base, tasks: [this.newTask(n, 0, at)] }
  }

  private assign (st: ClusterState, at: number): Command {
    const rng = this.rng
    const ready = st.pendingInOrder(at, 1 + Math.floor(rng() * 4))
    const assignments = ready.map(p => ({ taskId: p.id, attempt: p.attempts.length + (chance(rng, 0.93) ? 1 : 2), deviceId: pick(rng, DEVICES) }))
    if (chance(rng, 0.15)) {
      const any = st.listTasks({ limit: 50 })
      if (any.length > 0) { const t = pick(rng, any); assignments.push({ taskId: t.id, attempt: t.attempts.length + 1, deviceId: pick(rng, DEVICES) }) }
    }
    return { type: 'assign', at, assignments }
  }

  private results (st: ClusterState, t: TaskRecord, at: number): AttemptResult[] {
    const rng = this.rng
    const out: AttemptResult[] = []
    const extra = chance(rng, 0.2) ? st.listTasks({ status: 'running', limit: 5 }) : []
    for (const rec of [t, ...extra]) {
      const cur = rec.attempts.length
      const attempt = chance(rng, 0.85) ? cur : pick(rng, [cur - 1, cur + 1, cur + 2])
      const deviceId = rec.attempts[attempt - 1]?.deviceId ?? pick(rng, DEVICES)
      const status = pick(rng, ['completed', 'completed', 'completed', 'failed', 'failed', 'timeout', 'cancelled'] as const)
      const r: AttemptResult = { taskId: rec.id, attempt, deviceId, status, startedAt: at - 500, finishedAt: at }
      if (status === 'completed') r.result = { out: rec.id, n: this.n }
      if (status === 'failed' && chance(rng, 0.8)) r.error = { type: pick(rng, ['network_error', 'execution_error', 'resource_exhausted', 'invalid_payload'] as const), message: 'boom' }
      if (chance(rng, 0.3)) r.resourceUsage = { cpu: Math.floor(rng() * 100), memory: Math.floor(rng() * 512) }
      out.push(r)
      if (chance(rng, 0.05)) out.push({ ...r }) // the same (taskId, attempt) twice in one command
    }
    return out
  }

  private handoff (st: ClusterState, at: number): Command {
    const rng = this.rng
    const live = st.listTasks({ status: chance(rng, 0.5) ? 'running' : 'queued', limit: 20 })
    const withClone = st.listTasks({ limit: 200 }).filter(r => r.handoffTo !== undefined)
    const rec = withClone.length > 0 && chance(rng, 0.6) ? pick(rng, withClone) : live.length > 0 ? pick(rng, live) : undefined
    if (rec === undefined) return { type: 'handoff', at, phase: 'abort', taskId: 'nothing', attempt: 1, deviceId: 'd1', reason: 'none' }
    const phase = rec.handoffTo === undefined ? (chance(rng, 0.85) ? 'clone' : 'release') : pick(rng, ['release', 'release', 'abort', 'clone'] as const)
    const attempt = chance(rng, 0.9) ? rec.attempts.length : rec.attempts.length + 1
    const deviceId = rec.attempts[rec.attempts.length - 1]?.deviceId ?? pick(rng, DEVICES)
    return { type: 'handoff', at, phase, taskId: rec.id, attempt, deviceId, reason: pick(rng, ['on battery', 'operator drain']) }
  }

  private roleOrSettings (at: number): Command {
    const rng = this.rng
    const by = pick(rng, ['local-admin', 'admin:ops', 'alice'])
    if (chance(rng, 0.5)) return { type: 'setRole', at, by, principal: pick(rng, ['bob', 'carol', 'viewer:v', '']), role: pick(rng, ['viewer', 'operator', 'submitter', 'admin', null, 'king'] as const) as never }
    const settings = pick(rng, [
      { retentionMs: pick(rng, [15_000, 120_000, null, -1]) },
      { maxQueueSize: pick(rng, [6, 40, null, 0]) },
      { rateLimits: pick(rng, [[{ scope: 'type', key: 'echo', count: 5, perSeconds: 1 }], [], null]) }
    ])
    return { type: 'settings', at, by, settings: settings as never }
  }

  private evict (st: ClusterState, at: number): Command {
    const rng = this.rng
    if (this.lastCandidates !== undefined && chance(rng, 0.15)) return { ...this.lastCandidates, at } // a repeated (stale) proposal
    const c = st.evictionCandidates(at, 1 + Math.floor(rng() * 30))
    if (chance(rng, 0.1)) c.taskIds.push('ghost', ...st.listTasks({ status: 'running', limit: 1 }).map(r => r.id))
    if (chance(rng, 0.05)) c.batchIds.push(...this.batchIds.slice(-1))
    for (const id of c.taskIds) this.evicted.push(id)
    for (const id of c.batchIds) this.evicted.push(`batch:${id}`)
    for (const id of c.workflowIds) this.evicted.push(`workflow:${id}`)
    const cmd: Command = { type: 'evict', at, ...c }
    this.lastCandidates = cmd
    return cmd
  }
}


export interface StepInfo {
  step: number, at: number, cmd: Command, outcome: ApplyOutcome, st: ClusterState, sizeBefore: number, restored: boolean
  /** the state the command was applied to (st is a restored copy of it when `restored`) */
  applied: ClusterState
  /** everything a reader of the state can see now (for hashing) */
  views: () => unknown
}

/**
 * Replays seed's transcript for `steps` commands; calls onStep after each (st is the state after the
 * command and after a restore, when one was drawn). Returns the last state.
 */
export function replay (seed: number, steps: number, onStep: (i: StepInfo) => void): ClusterState {
  const rng = mulberry32(seed)
  const tr = new Transcript(rng)
  let st = new ClusterState({ maxQueueSize: 400 })
  let at = T0
  for (let step = 1; step <= steps; step++) {
    // time mostly moves on, sometimes by a minute; now and then it steps back (a new leader whose clock is behind)
    at += chance(rng, 0.04) ? -Math.floor(rng() * 8_000) : Math.floor(rng() * (chance(rng, 0.05) ? 60_000 : 2_500))
    const cmd = structuredClone(tr.next(st, at))
    const sizeBefore = st.size
    const outcome: ApplyOutcome = st.apply(cmd, step)
    const applied = st
    const restored = chance(rng, 0.04)
    if (restored) st = ClusterState.restore(structuredClone(st.snapshot()), { maxQueueSize: 400 })
    const now = st
    onStep({ step, at, cmd, outcome, st, applied, sizeBefore, restored, views: () => tr.views(now, at) })
  }
  return st
}
