// What only the leader does: place pending tasks on devices (one batched `assign` per round),
// dispatch committed assignments to their workers, collect results into batched `finished`
// commands, declare devices down, expire attempts whose worker vanished, and keep the voter set
// healthy (autopilot). Everything it decides goes through the log first; it keeps only soft state,
// so a new leader rebuilds all of it from the replicated state and worker reports.
import { planAssignments } from '../../sched/scheduler.js'
import { planPreemptions } from '../../sched/preemption.js'
import type { AttemptResult, ClusterEvent, ClusterSettingsPatch, Command, TaskRecord } from '../../sched/commands.js'
import { RateLimiter } from '../../sched/rate-limit.js'
import { MAX_EVICT_IDS_PER_COMMAND } from '../../protocol/limits.js'
import { resultBytes } from '../../protocol/fit-result.js'
import type { DeviceBid, ResourceUsage, TaskData } from '../../sched/types.js'
import type { ClusterCore } from '../cluster/core.js'
import type { Assignment, AssignReply } from '../worker/worker.js'
import { PrefetchEstimates } from './prefetch.js'
import type { Logger } from '../log.js'
import { realScheduler, type CancelTimer, type Scheduler } from '../scheduler.js'
import { TRACE_ON, traceMark } from '../trace.js'

export interface LeaderDeps {
  selfId: string
  core: ClusterCore
  /** fresh bids, our own included */
  bids: () => DeviceBid[]
  /** is this node in the Raft configuration (voter or learner)? only members get work */
  isMember: (id: string) => boolean
  /** last time we heard from a device (bid or exec message), ms */
  lastSeen: (deviceId: string) => number | undefined
  dispatch: (deviceId: string, items: Assignment[]) => Promise<AssignReply[]>
  cancelOn: (deviceId: string, taskId: string, attempt: number) => void
  now: () => number
  deviceTimeoutMs: number
  log: Logger
  /** cluster settings this node's options ask for: proposed when it leads and the state differs */
  settings?: ClusterSettingsPatch
  /** timers (the seeded simulator passes simulated time) @default realScheduler */
  scheduler?: Scheduler
}

/** how often the leader looks for work to place even with no trigger (retries coming due) */
const PLAN_INTERVAL_MS = 100
/**
 * ... and how often while nothing is queued, running or proposed: then no pass can find anything to
 * place, expire or declare down before the next event kicks it (a submit, a result, a retry), and
 * an idle leader woke ten times a second for nothing (issue 12's wake-ups). Retention stays 1 s.
 */
const IDLE_PASS_INTERVAL_MS = 1000
/** most assignments per round: bounds one log entry and one scheduling pass */
const MAX_ASSIGN_PER_ROUND = 2000
/** grace beyond timeout_seconds before the leader expires an attempt itself (the worker should) */
const EXPIRE_GRACE_MS = 5000
/** no new work for a device silent this long (the leader hears a member through Raft every 300 ms) */
const SILENT_DEVICE_MS = 2500
/** a proposed assignment not applied within this long is forgotten (rejected or lost) */
const PROPOSAL_TTL_MS = 5000
/** a dispatch that failed (device unreachable) is tried again after this long while it stands */
const DISPATCH_RETRY_MS = 500
/** a task that got a victim preempted gets no second one for this long (the first's slot is on its way) */
const PREEMPT_HOLD_MS = 5000
/** how often the leader looks for finished records past their retention (one 'evict' at a time) */
const EVICT_INTERVAL_MS = 1000
/** about this many bytes of results in one `finished` command (one log entry; a result may be 1 MiB) */
const FINISHED_COMMAND_BYTES = 1024 * 1024
const key = (taskId: string, attempt: number): string => `${taskId}:${attempt}`

export class LeaderLoop {
  private active = false
  /** our first entry applied, so the state holds the whole log (see becomeLeader) */
  private caughtUp = false
  private epoch = 0
  private timer?: CancelTimer
  /** the armed pass is the idle one (see IDLE_PASS_INTERVAL_MS) */
  private passIdle = false
  private readonly sched: Scheduler
  private planScheduled = false
  private since = 0
  /**
   * Assignments proposed but not applied yet (task → device, when): counted per device so a burst
   * spreads out, and skipped by the planner. One the state machine rejected (say the task was
   * cancelled meanwhile) never yields a 'schedule' event, so entries expire after a while.
   */
  private readonly proposedKeys = new Map<string, { deviceId: string, at: number }>()
  private readonly proposed = new Map<string, number>()
  private readonly toDispatch = new Map<string, Assignment[]>()
  private dispatchScheduled = false
  private readonly downProposed = new Map<string, number>()
  private readonly expireProposed = new Set<string>()
  /** result keys being committed, and the batch waiting to be proposed */
  private readonly resultsInflight = new Map<string, Promise<boolean>>()
  private resultBatch: AttemptResult[] = []
  private resultBatchPromise?: Promise<boolean>
  private resultBatchResolve?: (ok: boolean) => void
  /** live progress and resource usage reported by workers (not replicated) */
  readonly live = new Map<string, { progress: number, resourceUsage?: ResourceUsage }>()
  private readonly unsub: () => void
  /** execution time per task type: how deep to prefetch, and what must not wait behind others */
  private readonly prefetch = new PrefetchEstimates()
  /** the incarnation each device last bid with: a higher one means it restarted (see noticeRestarts) */
  private readonly incarnations = new Map<string, number>()
  /** retention: an 'evict' is in flight / when the last search ran */
  private evicting = false
  private lastEvictAt = 0
  /** the cluster's rate limits as token buckets, rebuilt when the replicated rules change */
  private limiter?: RateLimiter
  private limiterRules?: unknown
  /** preemption: waiting task → when a victim was proposed for it, and victims proposed (task id → when) */
  private readonly preemptedFor = new Map<string, number>()
  private readonly preemptVictims = new Map<string, number>()
  /**
   * tasks placed in the entry that submits them, not dispatched yet: dispatched once that entry is
   * handed to Raft when the turn may run early, else once it applies (see placeSubmitted)
   */
  private readonly placedWithSubmit = new Set<string>()
  /** this turn's placed tasks that may run before their submission commits (placeSubmitted → runPlacedEarly) */
  private runEarly?: Set<string>
  /**
   * 'started' reports of tasks that run while their submission commits and that this leader has
   * not applied yet (a commit slower than the worker's 100 ms): proposed once the placement applies
   */
  private readonly startedEarly = new Map<string, { deviceId: string, attempt: number, at: number }>()
  /** submitted tasks this leader proposed without a placement, not applied yet (task id → when) */
  private readonly unplacedSubmits = new Map<string, number>()

  constructor (private readonly d: LeaderDeps) {
    this.sched = d.scheduler ?? realScheduler
    this.unsub = d.core.onEvent(e => { this.onApplied(e) })
    d.core.setFlushHook(cmds => this.placeSubmitted(cmds), cmds => { this.runPlacedEarly(cmds) })
  }

  get isActive (): boolean { return this.active }

  becomeLeader (): void {
    if (this.active) return
    this.active = true
    this.since = this.d.now()
    this.proposedKeys.clear(); this.proposed.clear(); this.downProposed.clear(); this.expireProposed.clear()
    this.placedWithSubmit.clear(); this.unplacedSubmits.clear(); this.startedEarly.clear()
    this.armPass(PLAN_INTERVAL_MS)
    this.redispatchAll()
    // A new leader may not have applied the tail of its log yet (entries of earlier terms commit
    // with its first own entry): planning now would place tasks that are already placed there and
    // run them twice. An empty 'finished' is a barrier: once it applies, everything before it has.
    this.caughtUp = false
    const epoch = ++this.epoch
    const ready = (): void => { if (this.active && epoch === this.epoch) { this.caughtUp = true; this.applySettings(); this.kick() } }
    this.d.core.proposeAndWait({ type: 'finished', at: this.d.now(), results: [] }).then(ready, ready)
  }

  stepDown (): void {
    if (!this.active) return
    this.active = false
    this.timer?.()
    this.timer = undefined
    this.toDispatch.clear()
    this.resultBatchResolve?.(false)
    this.resultBatch = []; this.resultBatchPromise = undefined; this.resultBatchResolve = undefined
    this.resultsInflight.clear()
  }

  close (): void { this.stepDown(); this.unsub(); this.d.core.setFlushHook(undefined) }

  /** the next pass in `ms`; then again at the interval its outcome calls for */
  private armPass (ms: number): void {
    this.timer?.()
    this.passIdle = ms > PLAN_INTERVAL_MS
    this.timer = this.sched.timeout(() => {
      this.timer = undefined
      if (!this.active) return
      this.periodic()
      if (this.active && this.timer === undefined) this.armPass(this.quiet() ? IDLE_PASS_INTERVAL_MS : PLAN_INTERVAL_MS)
    }, ms, { unref: true })
  }

  /** nothing queued, running or on its way into the log: a pass can only evict */
  private quiet (): boolean {
    const state = this.d.core.state
    return this.caughtUp && state.readySize === 0 && state.activeCount === 0 &&
      this.proposed.size === 0 && this.unplacedSubmits.size === 0 && this.toDispatch.size === 0 &&
      this.resultsInflight.size === 0
  }

  /** something changed that may let more work be placed */
  kick (): void {
    // work may have come: back to the short pass (retries, placement, expiry, silent devices)
    if (this.active && this.passIdle) this.armPass(PLAN_INTERVAL_MS)
    if (!this.active || this.planScheduled) return
    this.planScheduled = true
    this.sched.immediate(() => { this.planScheduled = false; this.plan() })
  }

  private periodic (): void {
    this.noticeRestarts()
    this.plan()
    this.detectDownDevices()
    this.expireOverdue()
    this.evictExpired()
    this.forgetEnded()
  }

  /**
   * Per-task bookkeeping whose task has ended or never came (the cluster simulator's quiescence
   * check found each of these kept for as long as the node led): a submission proposed unplaced
   * that never applied (a retried workflow, a dropped staging) held placement back and kept the
   * pass at its busy pace until the next submission; a worker's progress report that arrived after
   * its task ended stayed in `live`.
   */
  private forgetEnded (): void {
    this.expireUnplaced(this.d.now())
    if (this.live.size === 0) return
    const state = this.d.core.state
    for (const id of this.live.keys()) {
      const status = state.getTask(id)?.status
      if (status !== 'queued' && status !== 'running') this.live.delete(id)
    }
  }

  /**
   * This node's settings options seed the cluster's when it leads: a setting the cluster has no value
   * for is proposed; one it has stays (it may have been changed on the live cluster with
   * `retire-cluster settings` / PATCH /v1/settings, which a restarted node's flags must not undo).
   */
  private applySettings (): void {
    const want = this.d.settings
    if (want === undefined) return
    const have = this.d.core.state.clusterSettings() as Record<string, unknown>
    const patch: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(want)) {
      if (v === undefined) continue
      if (have[k] === undefined) patch[k] = v
      else if (JSON.stringify(have[k]) !== JSON.stringify(v)) this.d.log.warn(`this node's option ${k}=${JSON.stringify(v)} differs from the cluster's ${JSON.stringify(have[k])}; the cluster's stays (change it with \`retire-cluster settings\`)`)
    }
    if (Object.keys(patch).length === 0) return
    this.d.core.proposeAndWait({ type: 'settings', at: this.d.now(), by: 'local-admin', settings: patch as ClusterSettingsPatch })
      .catch(err => { this.d.log.warn('could not apply the cluster settings of this node\'s options', (err as Error).message) })
  }

  /** Retention: propose one bounded 'evict' of what has expired (apply re-checks every id). */
  private evictExpired (): void {
    const now = this.d.now()
    if (!this.caughtUp || this.evicting || now - this.lastEvictAt < EVICT_INTERVAL_MS) return
    this.lastEvictAt = now
    const c = this.d.core.state.evictionCandidates(now, MAX_EVICT_IDS_PER_COMMAND)
    if (c.taskIds.length + c.batchIds.length + c.workflowIds.length === 0) return
    this.evicting = true
    // more left after this one (a bound-sized round): the next goes without waiting the interval,
    // else eviction tops out at ~5,000 tasks/s and the maxRetainedTasks cap falls behind a faster
    // cluster (1M soak at 4,850 tasks/s: 220,000 kept with a cap of 100,000)
    const done = (): void => { this.evicting = false; if (this.moreToEvict()) this.lastEvictAt = 0 }
    this.d.core.proposeAndWait({ type: 'evict', at: now, ...c }).then(done, done)
  }

  private moreToEvict (): boolean {
    if (!this.active) return false
    const c = this.d.core.state.evictionCandidates(this.d.now(), 1, 64)
    return c.taskIds.length + c.batchIds.length + c.workflowIds.length > 0
  }

  /** The token buckets for the replicated rules (kept while the rules stay the same). */
  private rateLimiter (now: number): RateLimiter | undefined {
    const rules = this.d.core.state.rateLimits
    if (rules !== this.limiterRules) {
      this.limiterRules = rules
      this.limiter = rules === undefined || rules.length === 0 ? undefined : new RateLimiter(rules, now)
    }
    return this.limiter
  }

  private plan (): void {
    // The core holds entries back while a snapshot is encoded: its state is behind the log by up to
    // seconds, and an assignment the leader proposed (and dispatched) before could look pending and
    // unproposed once its proposal's TTL ran out: it would be placed twice. The pass after the
    // held entries are applied places the work.
    if (!this.active || !this.caughtUp || this.d.core.holding) return
    const state = this.d.core.state
    // Nothing waits: nothing to place or to preempt for (both walk the ready queue alone). An idle
    // leader passes here ten times a second, and building the bid list was its largest allocation.
    if (state.readySize === 0) return
    const now = this.d.now()
    const slotsByDevice = new Map<string, number>()
    const bids = this.effectiveBids(slotsByDevice)
    if (bids.length === 0) return
    this.expireProposals(now)
    const { assignments, pendingReasons } = this.planOn(bids, slotsByDevice, now)
    for (const [id, reason] of pendingReasons) state.setPendingReason(id, reason)
    if (assignments.length > 0) this.proposeAssignments(assignments, now)
    this.preempt(bids, now)
  }

  /**
   * Urgent work that no device has a slot for takes one from running low-priority work (see
   * src/sched/preemption.ts): one 'preempt' per victim; once it applies, the worker is told to cancel
   * (onApplied) and the next plan puts the urgent task in the freed slot.
   */
  private preempt (bids: DeviceBid[], now: number): void {
    for (const m of [this.preemptedFor, this.preemptVictims]) {
      for (const [id, at] of m) if (now - at >= PREEMPT_HOLD_MS || now < at) m.delete(id)
    }
    const limiter = this.rateLimiter(now)
    const list = planPreemptions(this.d.core.state, bids, now, {
      inflightByDevice: this.proposed,
      skip: { has: id => this.proposedKeys.has(id) || this.preemptedFor.has(id) || this.preemptVictims.has(id) },
      rateLimited: rec => limiter?.blocked(rec, now) !== undefined
    })
    for (const p of list) {
      this.preemptedFor.set(p.forTaskId, now)
      this.preemptVictims.set(p.taskId, now)
      this.d.log.info(`preempting ${p.taskId} on ${p.deviceId.slice(-8)} for ${p.forTaskId}`)
      this.d.core.propose({ type: 'preempt', at: now, ...p })
    }
  }

  /**
   * The tasks a turn submits go on devices in the very entry that submits them: an 'assign' right
   * after their 'submit' commands, applied in order by every node. A task then costs one entry and
   * one consensus round less before it runs — no round to commit the submission, then a plan, then
   * a round for the assignment that the result's entry has to wait for (issue 12, latency
   * breakdown).
   *
   * When it is dispatched: at once, while the entry commits, when this leader can tell that applying
   * the turn will insert every task it submits — its log is settled (everything in it applied, so
   * nothing before the turn can change the outcome), the turn is plain submits only, and the state
   * machine's own checks pass for them in order (ClusterState.submitsInsertAll: no refusal, no
   * duplicate, no workflow, chunk or idempotency key). Its result's entry then follows the
   * submission's in this leader's log and commits with it or not at all, so the result's round
   * overlaps the submission's instead of following it (latency bench: one consensus round less).
   * The one way such a task runs without its submission committing is this leader losing the entry
   * with its leadership: the node the client submitted through then sends the same submission to
   * the next leader, so the task may run twice though acknowledged, or the client gets an error and
   * it may have run (execution is at-least-once; docs/concepts.md). A task with an idempotency key
   * never runs early: a client that retries with the key must find it ran once.
   * Otherwise it is dispatched when that entry applies here, never before.
   *
   * Only when the placement is exactly what plan() would do once the submissions apply: this leader
   * is caught up, no task waits in the queue and no submission it proposed unplaced is still on its
   * way (either would come first in queue order), and the turn's tasks are planned in queue order
   * (priority, then submission order) by the same planner with the same in-flight counts. Workflows
   * and batch chunks wait for the usual plan (their tasks enter the queue in ways the planner must
   * see in the state). A placement the state machine refuses (a duplicate or refused submission)
   * changes nothing and frees its slot here at once.
   */
  private placeSubmitted (cmds: readonly Command[]): Command[] | undefined {
    this.runEarly = undefined
    if (!this.active || !this.caughtUp || this.d.core.holding) return undefined // see plan()
    let records: TaskRecord[] | undefined
    let seen: Set<string> | undefined
    const now = this.d.now()
    const state = this.d.core.state
    for (const c of cmds) {
      if (c.type !== 'submit') continue
      const placeable = c.workflow === undefined && c.chunk === undefined
      for (const t of c.tasks) {
        if (!placeable) { this.unplacedSubmits.set(t.id, now); continue }
        if (state.getTask(t.id) !== undefined) continue // a retried submission: the task is in the state already
        // The same task twice in one turn (a forward and its resend after a leader change arriving
        // in one TCP burst, soak seed 13): placed once. Placed twice, each copy reserved a slot and
        // only one was given back: a batch's six tasks kept six slots for good.
        if ((seen ??= new Set()).has(t.id)) continue
        seen.add(t.id)
        ;(records ??= []).push({ id: t.id, taskType: t.taskType, status: 'pending', priority: t.priority, task: t, attempts: [], progress: 0, createdAt: t.createdAt, submittedAt: c.at, submittedBy: c.principal })
      }
    }
    if (records === undefined) return undefined
    this.expireUnplaced(now)
    const slotsByDevice = new Map<string, number>()
    const bids = state.readySize === 0 && this.unplacedSubmits.size === 0 ? this.effectiveBids(slotsByDevice) : []
    let assignments: Array<{ taskId: string, attempt: number, deviceId: string, relaxed?: boolean }> = []
    if (bids.length > 0) {
      this.expireProposals(now)
      records.sort((a, b) => a.priority - b.priority) // stable: submission order within a priority
      assignments = this.planOn(bids, slotsByDevice, now, records).assignments
    }
    for (const a of assignments) {
      this.reserve(a, now)
      this.placedWithSubmit.add(a.taskId)
    }
    for (const r of records) if (!this.placedWithSubmit.has(r.id)) this.unplacedSubmits.set(r.id, now)
    if (assignments.length === 0) return undefined
    if (this.d.core.logSettled && cmds.every(c => c.type === 'submit') &&
      state.submitsInsertAll(cmds as ReadonlyArray<Extract<Command, { type: 'submit' }>>)) {
      this.runEarly = new Set(assignments.map(a => a.taskId))
    }
    const cmd: Command = { type: 'assign', at: now, assignments }
    this.watchAssign(cmd)
    return [cmd]
  }

  /**
   * The turn's entries are with Raft: dispatch the tasks placeSubmitted found may run early, as the
   * entries hold them (decoded: what every node applies). One whose submission or placement did
   * not make it into an entry waits for the apply as usual (and never comes, if it is not there).
   */
  private runPlacedEarly (proposed: readonly Command[]): void {
    const ids = this.runEarly
    this.runEarly = undefined
    if (ids === undefined || !this.active) return
    const tasks = new Map<string, TaskData>()
    for (const c of proposed) if (c.type === 'submit') for (const t of c.tasks) if (ids.has(t.id)) tasks.set(t.id, t)
    for (const c of proposed) {
      if (c.type !== 'assign') continue
      for (const a of c.assignments) {
        const task = tasks.get(a.taskId)
        if (task === undefined || !this.placedWithSubmit.delete(a.taskId)) continue
        this.queueDispatch(a.deviceId, { taskId: a.taskId, attempt: a.attempt, task })
      }
    }
  }

  /** The planner over the ready queue, or over `candidates` (whose reasons are not recorded). */
  private planOn (bids: DeviceBid[], slotsByDevice: Map<string, number>, now: number, candidates?: TaskRecord[]): ReturnType<typeof planAssignments> {
    return planAssignments(this.d.core.state, bids, now, {
      maxAssignments: MAX_ASSIGN_PER_ROUND,
      inflightByDevice: this.proposed,
      skip: this.proposedKeys,
      needsFreeSlot: t => !this.prefetch.isShort(t),
      slotsByDevice,
      localDeviceId: this.d.selfId,
      rateLimiter: this.rateLimiter(now),
      ...(candidates !== undefined ? { candidates, setReasons: false } : {})
    })
  }

  /**
   * Slots held by assignments proposed and not applied yet (summed over devices), and the tasks
   * holding them: always equal (the cluster simulator checks it after every step, and both zero once
   * the cluster is quiescent). A slot counted for no task is held for good: CI's soak seed 13.
   */
  reservations (): { slots: number, tasks: number } {
    let slots = 0
    for (const n of this.proposed.values()) slots += n
    return { slots, tasks: this.proposedKeys.size }
  }

  /**
   * The per-task bookkeeping a quiescent cluster (every task ended, nothing on its way into the log)
   * must have emptied, by name, where not empty: an entry kept past its task's end holds a slot, a
   * dispatch or memory for as long as this node leads — months, on a quiet cluster. The cluster
   * simulator asks once it is quiescent. (Preemption holds and devices declared down are kept by
   * time and per device: bounded, not asked.)
   */
  leftovers (): Record<string, number> {
    const sizes: Record<string, number> = {
      proposedKeys: this.proposedKeys.size,
      proposed: this.proposed.size,
      toDispatch: this.toDispatch.size,
      expireProposed: this.expireProposed.size,
      resultsInflight: this.resultsInflight.size,
      resultBatch: this.resultBatch.length,
      live: this.live.size,
      placedWithSubmit: this.placedWithSubmit.size,
      unplacedSubmits: this.unplacedSubmits.size,
      startedEarly: this.startedEarly.size
    }
    return Object.fromEntries(Object.entries(sizes).filter(([, n]) => n > 0))
  }

  /** an assignment proposed: its device's slot is held and the planner passes the task over until it applies */
  private reserve (a: { taskId: string, deviceId: string }, now: number): void {
    // one reservation per task: its slot count and its key go together (forgetProposal undoes both)
    this.forgetProposal(a.taskId)
    this.proposed.set(a.deviceId, (this.proposed.get(a.deviceId) ?? 0) + 1)
    this.proposedKeys.set(a.taskId, { deviceId: a.deviceId, at: now })
    traceMark(a.taskId, 'assign.proposed')
  }

  /** submissions proposed unplaced that never applied (refused, or lost with a leader) stop holding placement back */
  private expireUnplaced (now: number): void {
    for (const [id, at] of this.unplacedSubmits) {
      if (now - at < PROPOSAL_TTL_MS) break // insertion order = time order
      this.unplacedSubmits.delete(id)
    }
  }

  /** an assignment the state machine refuses gives its device's reserved slot back at once */
  private watchAssign (cmd: Extract<Command, { type: 'assign' }>): void {
    this.d.core.watch(cmd).then(out => {
      let freed = false
      for (const r of out.rejected ?? []) {
        this.placedWithSubmit.delete(r.taskId)
        if (this.proposedKeys.get(r.taskId)?.deviceId !== r.deviceId) continue
        this.forgetProposal(r.taskId)
        freed = true
      }
      if (freed) this.kick()
    }, () => { /* not applied here (deposed, or timed out): the TTL forgets it */ })
  }

  private proposeAssignments (assignments: Array<{ taskId: string, attempt: number, deviceId: string }>, now: number): void {
    const state = this.d.core.state
    // one the state machine refuses (the task was cancelled or changed meanwhile) frees its slot at once
    const cmd: Command = { type: 'assign', at: now, assignments }
    this.watchAssign(cmd)
    this.d.core.propose(cmd)
    // Dispatch at once, while the assignment commits: this takes a whole consensus round off every
    // task's latency. Safe because results are keyed by (task, attempt, device) and applied after the
    // assign in log order; if this leader is deposed before the assign commits, the result reaches the
    // next leader as stale and the task runs again (execution is at-least-once, the outcome once).
    for (const a of assignments) {
      this.reserve(a, now)
      const rec = state.getTask(a.taskId)
      if (rec !== undefined) this.queueDispatch(a.deviceId, { taskId: a.taskId, attempt: a.attempt, task: rec.task })
    }
  }

  private forgetProposal (taskId: string): void {
    const p = this.proposedKeys.get(taskId)
    if (p === undefined) return
    this.proposedKeys.delete(taskId)
    const n = this.proposed.get(p.deviceId) ?? 0
    if (n <= 1) this.proposed.delete(p.deviceId); else this.proposed.set(p.deviceId, n - 1)
  }

  /** an assignment not applied within this long was rejected or lost with a leader change */
  private expireProposals (now: number): void {
    if (this.proposedKeys.size === 0) return
    for (const [taskId, p] of this.proposedKeys) {
      if (now - p.at < PROPOSAL_TTL_MS) break // insertion order = time order
      this.forgetProposal(taskId)
      // placed with a submission that did not apply in time (its proposal failed while this node
      // stayed leader, or it is very late: then onApplied dispatches it as not ours): not kept for
      // as long as this node leads
      this.placedWithSubmit.delete(taskId)
      this.startedEarly.delete(taskId)
    }
  }

  /**
   * Bids as the scheduler should see them: activeTasks is what the log placed there (the bid lags),
   * and capacity includes the worker's prefetch queue, none behind long tasks (see prefetch.ts).
   * Fills `slots` with each device's own execution slots.
   */
  private effectiveBids (slots: Map<string, number>): DeviceBid[] {
    const state = this.d.core.state
    const out: DeviceBid[] = []
    const now = this.d.now()
    // a device that missed two bids is probably cut off: give it no new work (its bid lingers in the
    // gossip table until the TTL, and placing work there only ends in a failover after deviceTimeout)
    const quietMs = Math.min(this.d.deviceTimeoutMs, SILENT_DEVICE_MS)
    for (const b of this.d.bids()) {
      if (!this.d.isMember(b.nodeId)) continue
      if (b.nodeId !== this.d.selfId && now - (this.d.lastSeen(b.nodeId) ?? 0) > quietMs) continue
      const placed = state.runningOn(b.nodeId)
      slots.set(b.nodeId, b.maxConcurrentTasks)
      out.push({ ...b, activeTasks: placed.length, maxConcurrentTasks: this.prefetch.capacity(b.maxConcurrentTasks, placed, now) })
    }
    return out
  }

  private onApplied (e: ClusterEvent): void {
    if (e.kind === 'schedule') {
      const ours = this.proposedKeys.get(e.taskId)?.deviceId === e.deviceId
      this.forgetProposal(e.taskId)
      const started = this.startedEarly.get(e.taskId)
      if (started !== undefined) {
        this.startedEarly.delete(e.taskId)
        if (this.active && started.deviceId === e.deviceId && started.attempt === e.attempt) this.d.core.propose({ type: 'started', at: started.at, taskId: e.taskId, attempt: e.attempt, deviceId: e.deviceId })
      }
      if (this.placedWithSubmit.delete(e.taskId) && ours && this.active) {
        const rec = this.d.core.state.getTask(e.taskId)
        if (rec !== undefined) this.queueDispatch(e.deviceId, { taskId: e.taskId, attempt: e.attempt, task: rec.task })
        return
      }
      // An assignment of an earlier term that commits under us (the log tail a new leader applies
      // after its first commit) was never in redispatchAll: its worker may not have it (all nodes
      // restarted, or the old leader died before dispatching). Send it; the worker dedups. Compare
      // the device: we may have proposed the same task elsewhere before that tail applied.
      if (this.active && !ours) {
        const rec = this.d.core.state.getTask(e.taskId)
        if (rec !== undefined) this.queueDispatch(e.deviceId, { taskId: e.taskId, attempt: e.attempt, task: rec.task })
      }
      return
    }
    if (e.kind === 'error' && e.status === 'cancelled' && e.deviceId !== undefined && this.active) {
      this.d.cancelOn(e.deviceId, e.taskId, e.attempt) // the worker kills the process; its late result is stale
    }
    if (e.kind === 'submit') this.unplacedSubmits.delete(e.taskId)
    if (e.kind === 'complete' || e.kind === 'error' || e.kind === 'submit' || e.kind === 'retry' || e.kind === 'failover') {
      this.live.delete(e.taskId)
      this.kick()
    }
  }

  private queueDispatch (deviceId: string, a: Assignment): void {
    let list = this.toDispatch.get(deviceId)
    if (list === undefined) { list = []; this.toDispatch.set(deviceId, list) }
    list.push(a)
    if (this.dispatchScheduled) return
    this.dispatchScheduled = true
    this.sched.immediate(() => { this.dispatchScheduled = false; this.flushDispatch() })
  }

  private flushDispatch (): void {
    for (const [deviceId, items] of this.toDispatch) {
      this.toDispatch.delete(deviceId)
      if (TRACE_ON) for (const it of items) traceMark(it.taskId, 'dispatch.sent')
      this.d.dispatch(deviceId, items).then(replies => {
        for (const r of replies) {
          if (!r.accepted) this.d.core.propose({ type: 'refused', at: this.d.now(), taskId: r.taskId, attempt: r.attempt, deviceId, reason: r.reason ?? 'refused' })
        }
      }, err => {
        // Unreachable: leave the tasks assigned; if the device stays silent it is declared down
        // and its tasks fail over. Refusing here would run them twice if the worker did get them.
        // A live device we just cannot reach yet (no connection right after a restart) keeps
        // bidding, so it is never declared down: send again shortly while the assignment stands.
        this.d.log.debug(`dispatch to ${deviceId.slice(-8)} failed`, (err as Error).message)
        this.sched.timeout(() => { this.redispatchIfCurrent(deviceId, items) }, DISPATCH_RETRY_MS, { unref: true })
      })
    }
  }

  /** items still assigned to deviceId (committed, or proposed by us and not yet applied) go out again */
  private redispatchIfCurrent (deviceId: string, items: Assignment[]): void {
    if (!this.active) return
    for (const it of items) {
      const rec = this.d.core.state.getTask(it.taskId)
      if (rec === undefined) continue
      const committed = rec.deviceId === deviceId && rec.attempts.length === it.attempt && (rec.status === 'queued' || rec.status === 'running')
      const proposed = rec.status === 'pending' && this.proposedKeys.get(it.taskId)?.deviceId === deviceId
      if (committed || proposed) this.queueDispatch(deviceId, it)
    }
  }

  /**
   * A worker that restarted within deviceTimeout is never declared down, but it lost what it was
   * running and what waited in its queue: send its live assignments again (it runs them afresh).
   */
  private noticeRestarts (): void {
    if (!this.caughtUp) return
    let restarted: Set<string> | undefined
    for (const b of this.d.bids()) {
      const known = this.incarnations.get(b.nodeId)
      if (known === b.incarnation) continue
      this.incarnations.set(b.nodeId, b.incarnation)
      if (known !== undefined && b.incarnation > known) (restarted ??= new Set()).add(b.nodeId)
    }
    if (restarted === undefined) return
    this.redispatchAll(restarted)
    for (const id of restarted) this.d.log.info(`device ${id.slice(-8)} restarted: its assignments are sent again`)
  }

  /**
   * Send live assignments again (idempotent: the worker dedups or answers from memory): all of them
   * for a new leader, which does not know what was dispatched, or those on `only` devices.
   */
  private redispatchAll (only?: ReadonlySet<string>): void {
    for (const rec of this.d.core.state.activeTasks()) {
      if (rec.deviceId === undefined || (only !== undefined && !only.has(rec.deviceId))) continue
      const cur = rec.attempts[rec.attempts.length - 1]
      if (cur === undefined) continue
      this.queueDispatch(rec.deviceId, { taskId: rec.id, attempt: cur.attempt, task: rec.task })
    }
  }

  /** Worker results: resolves with the keys that are committed (the worker stops resending those). */
  async handleResults (deviceId: string, results: AttemptResult[]): Promise<string[]> {
    if (!this.active) throw new Error('not leader')
    const waits: Array<Promise<boolean>> = []
    const keys: string[] = []
    for (const r of results) {
      const k = key(r.taskId, r.attempt)
      keys.push(k)
      traceMark(r.taskId, 'result.received')
      // keyed by device too: after a leader change two devices can report the same (task, attempt)
      // (one ran a lost assignment); the current one's result must not ride on the stale one's commit
      const ik = `${k}@${deviceId}`
      const inflight = this.resultsInflight.get(ik)
      if (inflight !== undefined) { waits.push(inflight); continue }
      r.deviceId = deviceId // the sender is authoritative, not what it wrote
      const type = this.d.core.state.getTask(r.taskId)?.taskType
      if (type !== undefined) this.prefetch.observe(type, r.finishedAt - r.startedAt)
      const p = this.enqueueResult(r)
      this.resultsInflight.set(ik, p)
      void p.finally(() => { this.resultsInflight.delete(ik) })
      waits.push(p)
    }
    const oks = await Promise.all(waits)
    return keys.filter((_, i) => oks[i])
  }

  private enqueueResult (r: AttemptResult): Promise<boolean> {
    this.resultBatch.push(r)
    if (this.resultBatchPromise === undefined) {
      this.resultBatchPromise = new Promise<boolean>(resolve => { this.resultBatchResolve = resolve })
      this.sched.immediate(() => { this.flushResults() })
    }
    return this.resultBatchPromise
  }

  private flushResults (): void {
    const results = this.resultBatch
    const resolve = this.resultBatchResolve
    this.resultBatch = []; this.resultBatchPromise = undefined; this.resultBatchResolve = undefined
    if (resolve === undefined || results.length === 0) return
    if (!this.active) { resolve(false); return }
    if (TRACE_ON) for (const r of results) traceMark(r.taskId, 'finished.proposed')
    // A command is one log entry and cannot be split: the results of several workers in one turn
    // go as commands of at most ~1 MiB each (a result may be 1 MiB), all-or-nothing for this turn.
    const chunks: AttemptResult[][] = [[]]
    let bytes = 0
    for (const r of results) {
      const size = resultBytes(r)
      if (chunks[chunks.length - 1]!.length > 0 && bytes + size > FINISHED_COMMAND_BYTES) { chunks.push([]); bytes = 0 }
      chunks[chunks.length - 1]!.push(r)
      bytes += size
    }
    const at = this.d.now()
    Promise.all(chunks.map(async c => await this.d.core.proposeAndWait({ type: 'finished', at, results: c }))).then(() => { resolve(true) }, () => { resolve(false) })
  }

  handleStarted (deviceId: string, taskId: string, attempt: number, at: number): void {
    if (!this.active) return
    const rec = this.d.core.state.getTask(taskId)
    if (rec === undefined && this.proposedKeys.get(taskId)?.deviceId === deviceId) {
      this.startedEarly.set(taskId, { deviceId, attempt, at }) // see onApplied 'schedule'
      return
    }
    if (rec === undefined || rec.deviceId !== deviceId || rec.status !== 'queued') return
    this.d.core.propose({ type: 'started', at, taskId, attempt, deviceId })
  }

  handleProgress (taskId: string, progress: number, resourceUsage?: ResourceUsage): void {
    const entry: { progress: number, resourceUsage?: ResourceUsage } = { progress }
    // a handler's own progress call carries no usage: keep the last sample the executor sent
    const usage = resourceUsage ?? this.live.get(taskId)?.resourceUsage
    if (usage !== undefined) entry.resourceUsage = usage
    this.live.set(taskId, entry)
  }

  private detectDownDevices (): void {
    const now = this.d.now()
    if (now - this.since < this.d.deviceTimeoutMs) return // give workers a chance to hear of us
    const byDevice = new Set<string>()
    for (const rec of this.d.core.state.activeTasks()) if (rec.deviceId !== undefined) byDevice.add(rec.deviceId)
    for (const dev of byDevice) {
      if (dev === this.d.selfId) continue
      const seen = this.d.lastSeen(dev) ?? this.since
      if (now - seen <= this.d.deviceTimeoutMs) continue
      const last = this.downProposed.get(dev)
      if (last !== undefined && now - last < this.d.deviceTimeoutMs) continue
      this.downProposed.set(dev, now)
      this.d.log.warn(`device ${dev.slice(-8)} silent for ${now - seen} ms: declaring it down`)
      this.d.core.propose({ type: 'deviceDown', at: now, deviceId: dev })
    }
  }

  private expireOverdue (): void {
    const now = this.d.now()
    // the attempts an expiry was proposed for that are still active: the rest have ended (kept, the
    // set grew by every attempt that ever timed out for as long as this node led)
    const stillActive = this.expireProposed.size > 0 ? new Set<string>() : undefined
    for (const rec of this.d.core.state.activeTasks()) {
      const cur = rec.attempts[rec.attempts.length - 1]
      if (cur === undefined) continue
      const limitMs = rec.task.requirements.timeoutSeconds * 1000 + EXPIRE_GRACE_MS
      const k = key(rec.id, cur.attempt)
      if (this.expireProposed.has(k)) { stillActive?.add(k); continue }
      if (now - (cur.startedAt ?? cur.assignedAt) <= limitMs) continue
      this.expireProposed.add(k)
      stillActive?.add(k)
      this.d.core.propose({ type: 'expire', at: now, taskId: rec.id, attempt: cur.attempt })
    }
    if (stillActive !== undefined) for (const k of this.expireProposed) if (!stillActive.has(k)) this.expireProposed.delete(k)
  }

  liveOf (rec: TaskRecord): TaskRecord {
    const l = this.live.get(rec.id)
    if (l === undefined || rec.status !== 'running') return rec
    return { ...rec, progress: l.progress, ...(l.resourceUsage !== undefined ? { resourceUsage: l.resourceUsage } : {}) }
  }
}
