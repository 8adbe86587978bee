// The soak's checker: pure, over the history (history.jsonl) and the final state fetched from the
// surviving nodes. It knows nothing of how the run went beyond what those record, so a kept run dir
// can be re-checked. Invariants (each violation names its kind):
//
//   lost          an acknowledged submission has no task in the final state
//   idempotency   two tries of one submission were acknowledged with different ids, or one
//                 submission (idempotency key) made two tasks
//   phantom       a task in the final state that no submission asked for (and not a failover clone)
//   chain         a failover chain is malformed (replacedBy/replaces disagree, a link before the last
//                 is neither failed nor cancelled by a drain's hand-off to the next, a loop)
//   stuck         an acknowledged task's chain did not reach a terminal state within `boundMs` after
//                 the last fault healed
//   twice         a (task, attempt) listed twice, or more than one completed attempt in a chain, or a
//                 completed chain without a completed attempt
//   result        a completed echo's result is not its payload, a sleep's not { slept: duration }
//   outcome       a terminal status seen by a client read differs from the final one
//   divergence    surviving nodes disagree on the final state of a task
//   priority      see checkPriorities
//   disk          a node crashed while its disk was full, or answered a submission then with no clear
//                 error (a timeout, a dropped connection, an error without a type and message)
//   metrics       /v1/metrics on a node disagrees with the attempts in that node's final state, or
//                 counts fewer completions than the history acknowledged and saw complete
import { isDeepStrictEqual } from 'node:util'
import { DEFAULT_PRIORITY_WEIGHTS } from '../../src/sched/queue.js'
import type { HistoryEvent, TaskSpec } from './history.js'

export const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout'])

export interface Attempt { attempt: number, deviceId: string, status: string, assignedAt?: number, startedAt?: number, finishedAt?: number, refused?: boolean }
export interface TaskRecord {
  id: string
  status: string
  priority: number
  result?: unknown
  replacedBy?: string
  replaces?: string
  /** a drain handed this task off to that clone (it ends cancelled once the clone runs) */
  handoffTo?: string
  attempts: Attempt[]
  task: { payload?: Record<string, unknown>, taskType?: string }
  taskType?: string
}
export interface MetricsView { completed: number, failed: number, totalTasks: number }

export interface CheckInput {
  events: HistoryEvent[]
  /** node name → its task list (every task, limit 10000) after the run settled */
  finals: Map<string, TaskRecord[]>
  /** node name → /v1/metrics?period=24h */
  metrics: Map<string, MetricsView>
  /** the stated bound: every acknowledged task is terminal this long after the last fault healed */
  boundMs: number
  /** assumed delay from an assignment's commit to the worker having it (the priority check) */
  dispatchSlackMs?: number
  /** no priority judgement within this long of any fault (the leader or a worker may be catching up) */
  faultMarginMs?: number
  agingSeconds?: number
}

export interface Violation { kind: string, message: string, taskId?: string, op?: number }

export interface CheckReport {
  violations: Violation[]
  stats: {
    ops: number
    acknowledged: number
    /** of them, acknowledged over a submission stream (POST /v1/tasks/stream) */
    acknowledgedOverStream: number
    unacknowledgedPresent: number
    tasks: number
    clones: number
    completed: number
    failed: number
    attempts: number
    priorityPairsJudged: number
    maxTimeToFinalAfterHealMs: number
  }
}

const tagOf = (t: TaskRecord): string | undefined => {
  const tag = t.task?.payload?.tag
  return typeof tag === 'string' ? tag : undefined
}

export function check (inp: CheckInput): CheckReport {
  const v: Violation[] = []
  const add = (kind: string, message: string, extra: Partial<Violation> = {}): void => { if (v.length < 1000) v.push({ kind, message, ...extra }) }
  const names = [...inp.finals.keys()].sort()
  if (names.length === 0) {
    add('divergence', 'no surviving node answered with its final state')
    return { violations: v, stats: emptyStats() }
  }
  const ref = inp.finals.get(names[0]!)!
  const byId = new Map(ref.map(t => [t.id, t]))
  if (byId.size !== ref.length) add('twice', `${names[0]!} lists a task id twice`)

  // ops of the history: spec, acknowledged ids, the final seen by the waiter
  const specs = new Map<number, TaskSpec>()
  const ackIds = new Map<number, Set<string>>()
  const overStream = new Set<number>()
  const firstInvoke = new Map<number, number>()
  const ackAt = new Map<number, number>()
  const finalAt = new Map<number, number>()
  const seenTerminal = new Map<string, { status: string, node: string, t: number }>()
  let healedAt: number | undefined
  const faultWindows: Array<[number, number]> = []
  const openFaults = new Map<string, number>()
  for (const e of inp.events) {
    switch (e.type) {
      case 'invoke':
        specs.set(e.op, e.spec)
        if (!firstInvoke.has(e.op)) firstInvoke.set(e.op, e.t)
        break
      case 'ok': {
        const s = ackIds.get(e.op) ?? new Set<string>()
        s.add(e.id); ackIds.set(e.op, s)
        if (e.via === 'stream') overStream.add(e.op)
        if (!ackAt.has(e.op)) ackAt.set(e.op, e.t)
        break
      }
      case 'final': finalAt.set(e.op, e.t); break
      case 'read':
        if (TERMINAL.has(e.status) && e.replacedBy === undefined && !seenTerminal.has(e.id)) seenTerminal.set(e.id, { status: e.status, node: e.node, t: e.t })
        break
      case 'heal': if (e.phase === 'all-healed') healedAt = e.t; break
      case 'nemesis': {
        if (e.detail !== undefined && /CRASHED|NO CLEAR ANSWER/.test(e.detail)) add('disk', `${e.kind} on ${e.node ?? '?'}: ${e.detail}`)
        const k = `${e.kind}:${e.node ?? ''}`
        if (e.phase === 'start') openFaults.set(k, e.t)
        else if (e.phase === 'end') { faultWindows.push([openFaults.get(k) ?? e.t, e.t]); openFaults.delete(k) } else faultWindows.push([e.t, e.t])
        break
      }
      default: break
    }
  }
  for (const [, t0] of openFaults) faultWindows.push([t0, healedAt ?? Number.MAX_SAFE_INTEGER])

  // tasks of each submission (by tag), and every task accounted for
  const byTag = new Map<string, TaskRecord[]>()
  for (const t of ref) {
    const tag = tagOf(t)
    if (tag === undefined) { add('phantom', `task ${t.id} has no soak tag`, { taskId: t.id }); continue }
    const l = byTag.get(tag) ?? []
    l.push(t); byTag.set(tag, l)
  }
  const knownTags = new Set([...specs.values()].map(s => String(s.payload.tag)))
  for (const [tag, ts] of byTag) {
    if (!knownTags.has(tag)) for (const t of ts) add('phantom', `task ${t.id} (tag ${tag}) matches no submission`, { taskId: t.id })
    const roots = ts.filter(t => t.replaces === undefined)
    if (roots.length > 1) add('idempotency', `submission ${tag} made ${roots.length} tasks: ${roots.map(t => t.id).join(', ')}`)
  }

  // every record on every node, acknowledged or not, lists each attempt once (a task whose
  // submission was never acknowledged is no less a state to keep straight)
  for (const name of names) {
    for (const t of inp.finals.get(name)!) {
      const nums = t.attempts.map(a => a.attempt)
      if (new Set(nums).size !== nums.length) add('twice', `task ${t.id} lists an attempt twice on ${name}: ${nums.join(',')}`, { taskId: t.id })
    }
  }

  let unackPresent = 0; let completed = 0; let failed = 0; let clones = 0; let attempts = 0; let maxFinal = 0
  for (const [op, spec] of specs) {
    const ids = ackIds.get(op)
    const roots = (byTag.get(String(spec.payload.tag)) ?? []).filter(t => t.replaces === undefined)
    if (ids === undefined) { if (roots.length > 0) unackPresent++; continue }
    if (ids.size > 1) add('idempotency', `op ${op}: tries acknowledged with different ids ${[...ids].join(', ')}`, { op })
    const id = [...ids][0]!
    const root = byId.get(id)
    if (root === undefined) { add('lost', `op ${op}: acknowledged task ${id} is missing from the final state`, { op, taskId: id }); continue }
    const chain = followChain(root, byId, m => { add('chain', `op ${op}: ${m}`, { op, taskId: id }) })
    const last = chain[chain.length - 1]!
    clones += chain.length - 1
    const fa = finalAt.get(op)
    if (!TERMINAL.has(last.status) || fa === undefined) {
      add('stuck', `op ${op}: task ${id} (last link ${last.id}) was not seen terminal within ${inp.boundMs} ms after the last fault healed (final state: '${last.status}'); attempts ${JSON.stringify(last.attempts)}`, { op, taskId: last.id })
    } else if (healedAt !== undefined) {
      // the bound runs from the heal, or from the acknowledgement when that came later
      const from = Math.max(healedAt, ackAt.get(op) ?? healedAt)
      maxFinal = Math.max(maxFinal, fa - from)
      if (fa - from > inp.boundMs) add('stuck', `op ${op}: task ${id} terminal only ${fa - from} ms after the heal (bound ${inp.boundMs} ms)`, { op, taskId: id })
    }
    // exactly one outcome: count completed attempts along the chain
    let done = 0
    for (const t of chain) {
      attempts += t.attempts.length
      done += t.attempts.filter(a => a.status === 'completed').length
    }
    if (done > 1) add('twice', `op ${op}: ${done} completed attempts along chain ${chain.map(t => t.id).join(' -> ')}`, { op, taskId: id })
    if (last.status === 'completed') {
      completed++
      if (done !== 1) add('twice', `op ${op}: chain completed with ${done} completed attempts`, { op, taskId: last.id })
      checkResult(spec, last, m => { add('result', `op ${op}: ${m}`, { op, taskId: last.id }) })
    } else if (TERMINAL.has(last.status)) failed++
    // a terminal outcome a client saw is the outcome
    for (const t of chain) {
      const seen = seenTerminal.get(t.id)
      if (seen !== undefined && (t !== last || seen.status !== last.status)) {
        add('outcome', `op ${op}: ${seen.node} showed ${t.id} '${seen.status}' (no clone) at ${seen.t}; final: ${t.id} '${t.status}'${t.replacedBy !== undefined ? ` replaced by ${t.replacedBy}` : ''}`, { op, taskId: t.id })
      }
    }
  }

  // every survivor holds the same outcome for every task
  for (const n of names.slice(1)) {
    const other = new Map(inp.finals.get(n)!.map(t => [t.id, t]))
    let shown = 0
    for (const t of ref) {
      const o = other.get(t.id)
      if (o === undefined || digest(o) !== digest(t)) {
        if (shown++ < 5) add('divergence', `${n} and ${names[0]!} disagree on ${t.id}: ${o === undefined ? 'missing' : `${digest(o)} vs ${digest(t)}`}`, { taskId: t.id })
      }
    }
    if (other.size !== byId.size) add('divergence', `${n} lists ${other.size} tasks, ${names[0]!} ${byId.size}`)
  }

  checkMetrics(inp, completed, add)
  const judged = checkPriorities(ref, specs, firstInvoke, ackAt, faultWindows, inp, add)

  return {
    violations: v,
    stats: {
      ops: specs.size,
      acknowledged: ackIds.size,
      acknowledgedOverStream: overStream.size,
      unacknowledgedPresent: unackPresent,
      tasks: ref.length,
      clones,
      completed,
      failed,
      attempts,
      priorityPairsJudged: judged,
      maxTimeToFinalAfterHealMs: maxFinal
    }
  }
}

function emptyStats (): CheckReport['stats'] {
  return { ops: 0, acknowledged: 0, acknowledgedOverStream: 0, unacknowledgedPresent: 0, tasks: 0, clones: 0, completed: 0, failed: 0, attempts: 0, priorityPairsJudged: 0, maxTimeToFinalAfterHealMs: 0 }
}

/** root, its clone, the clone's clone … (bounded: a chain longer than 20 links is reported) */
export function followChain (root: TaskRecord, byId: Map<string, TaskRecord>, bad: (m: string) => void): TaskRecord[] {
  const chain = [root]
  let t = root
  for (let i = 0; i < 20 && t.replacedBy !== undefined; i++) {
    const next = byId.get(t.replacedBy)
    if (next === undefined) { bad(`${t.id} replacedBy ${t.replacedBy}, which does not exist`); return chain }
    if (next.replaces !== t.id) bad(`${t.id} replacedBy ${next.id}, but that one replaces ${String(next.replaces)}`)
    // failover ends a link 'failed' (device_failure); a drain's hand-off ends it 'cancelled' once the
    // clone runs (src/sched/state/handoff.ts). Anything else before the last link is malformed.
    const handedOff = t.status === 'cancelled' && t.handoffTo === next.id
    if (t.status !== 'failed' && !handedOff) bad(`${t.id} was replaced by ${next.id} but is '${t.status}', not failed (nor handed off)`)
    if (chain.includes(next)) { bad(`failover chain loops at ${next.id}`); return chain }
    chain.push(next)
    t = next
  }
  if (t.replacedBy !== undefined) bad(`failover chain of ${root.id} longer than 20 links`)
  return chain
}

function checkResult (spec: TaskSpec, t: TaskRecord, bad: (m: string) => void): void {
  const want = spec.taskType === 'echo' ? spec.payload : { slept: spec.payload.duration }
  if (!isDeepStrictEqual(t.result, want)) bad(`task ${t.id} (${spec.taskType}) completed with ${JSON.stringify(t.result)}, expected ${JSON.stringify(want)}`)
}

function digest (t: TaskRecord): string {
  return JSON.stringify([t.status, t.replacedBy ?? null, t.result ?? null, t.attempts.map(a => [a.attempt, a.deviceId, a.status])])
}

function checkMetrics (inp: CheckInput, completedLogical: number, add: (k: string, m: string) => void): void {
  for (const [n, m] of inp.metrics) {
    const tasks = inp.finals.get(n)
    if (tasks === undefined) continue
    let done = 0
    for (const t of tasks) for (const a of t.attempts) if (a.status === 'completed') done++
    if (m.completed !== done) add('metrics', `${n}: /v1/metrics completed=${m.completed}, its final state has ${done} completed attempts`)
    if (m.completed < completedLogical) add('metrics', `${n}: /v1/metrics completed=${m.completed} < ${completedLogical} acknowledged submissions that completed`)
  }
}

/**
 * Priorities, judged only where the judgement is sure. A pair (X, Y) ran on one device D, each in the
 * only attempt of a task that was never refused, retried or cloned; X is more urgent (lower number).
 * Y started while X had been on D for at least `dispatchSlackMs` (X.assignedAt + slack <= Y.startedAt)
 * and X started later: both were waiting on D at once and Y went first. That is allowed only if aging
 * could have lifted Y to X's level, so we give Y the longest wait it could have had (since its first
 * submit try) and X the shortest (since its acknowledgement):
 *   effective(p, wait) = max(1, p - floor(waitSeconds * weight[p] / agingSeconds))   (src/sched/queue.ts)
 * and report only when effective(Y) > effective(X) even so. Pairs within `faultMarginMs` of any fault
 * are skipped: after a crash or a pause, an assignment may reach its worker much later than committed.
 */
function checkPriorities (tasks: TaskRecord[], specs: Map<number, TaskSpec>, firstInvoke: Map<number, number>, ackAt: Map<number, number>,
  faults: Array<[number, number]>, inp: CheckInput, add: (k: string, m: string, e?: Partial<Violation>) => void): number {
  const slack = inp.dispatchSlackMs ?? 1000
  const margin = inp.faultMarginMs ?? 4000
  const agingS = inp.agingSeconds ?? 60
  const opOfTag = new Map<string, number>()
  for (const [op, s] of specs) opOfTag.set(String(s.payload.tag), op)
  interface Run { t: TaskRecord, a: Attempt, p: number, invokedAt: number, ackedAt: number }
  const byDevice = new Map<string, Run[]>()
  for (const t of tasks) {
    if (t.replaces !== undefined || t.replacedBy !== undefined || t.attempts.length !== 1) continue
    const a = t.attempts[0]!
    if (a.refused === true || a.status !== 'completed' || a.assignedAt === undefined || a.startedAt === undefined) continue
    const op = opOfTag.get(tagOf(t) ?? '')
    if (op === undefined) continue
    const inv = firstInvoke.get(op); const ack = ackAt.get(op)
    if (inv === undefined || ack === undefined) continue
    const l = byDevice.get(a.deviceId) ?? []
    l.push({ t, a, p: t.priority, invokedAt: inv, ackedAt: ack }); byDevice.set(a.deviceId, l)
  }
  const nearFault = (from: number, to: number): boolean => faults.some(([s, e]) => s - margin <= to && e + margin >= from)
  const eff = (p: number, waitMs: number): number => Math.max(1, p - Math.floor(Math.max(0, waitMs) / 1000 * (DEFAULT_PRIORITY_WEIGHTS[p] ?? 1) / agingS))
  let judged = 0; let reported = 0
  for (const [dev, runs] of byDevice) {
    runs.sort((a, b) => a.a.startedAt! - b.a.startedAt!)
    for (let i = 0; i < runs.length; i++) {
      const y = runs[i]!
      const yStart = y.a.startedAt!
      for (let j = i + 1; j < runs.length; j++) {
        const x = runs[j]!
        if (x.a.startedAt! <= yStart || x.p >= y.p) continue
        if (x.a.assignedAt! + slack > yStart) continue
        if (nearFault(Math.min(x.a.assignedAt!, y.a.assignedAt!), x.a.startedAt!)) continue
        judged++
        const ey = eff(y.p, yStart - y.invokedAt)
        const ex = eff(x.p, yStart - x.ackedAt)
        if (ey > ex && reported++ < 20) {
          add('priority', `on ${dev.slice(-8)}: ${y.t.id} (priority ${y.p}) started at ${yStart} before ${x.t.id} (priority ${x.p}), which had been assigned there ${yStart - x.a.assignedAt!} ms earlier and started ${x.a.startedAt! - yStart} ms later; effective priorities at best ${ey} vs ${ex}`, { taskId: x.t.id })
        }
      }
    }
  }
  return judged
}
