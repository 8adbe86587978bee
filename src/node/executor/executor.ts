// TaskExecutor: runs one task at a time per slot, enforces its limits, and turns every way a task
// can end into an ExecOutcome (it never rejects). Trivially safe handlers (echo, sleep,
// system_info, file_operation) run inline; python_eval and command run their program through
// ctx.runProcess; custom handlers loaded from modules run in a child Node process.

import type { ResourceUsage, TaskData, TaskErrorData } from '../../sched/types.js'
import type { AttemptResult } from '../../sched/commands.js'
import type { EffectiveLimits, ExecContext, HandlerContext, NodePolicy, ProcessResult, RunProcessOptions } from '../handlers/context.js'
import { TaskRegistry, type RegisteredHandler } from '../handlers/registry.js'
import { PermissionDeniedError, TaskFailure, UnsupportedOperationError, ResourceExhaustedError, toErrorData } from '../handlers/errors.js'
import { registerBuiltins } from '../handlers/builtins/index.js'
import { detectSandboxSync, type SandboxFeatures } from '../system/sandbox.js'
import { initNodeCgroups } from '../system/cgroup.js'
import { DEFAULT_LIMITS, DEFAULT_POLICY, effectiveLimits, type ResourceLimits } from './limits.js'
import { KILLED, Run, type RunHooks } from './run.js'
import { collect, minimalEnv, spawnSandboxed } from './spawn.js'
import { ChildPool, type ChildPoolOptions } from './child-pool.js'

export type { ExecContext, NodePolicy, HandlerContext }

/** how one attempt ended: a worker's result without the (task, attempt, device) key */
export type ExecOutcome = Omit<AttemptResult, 'taskId' | 'attempt' | 'deviceId'>

export interface ExecHooks extends RunHooks {
  /** aborting it cancels the task, like cancel(task.id) */
  signal?: AbortSignal
  /** attempt number the leader assigned (1-based). @default 1 */
  attempt?: number
}

export interface TaskExecutorOptions {
  /** @default 5 */
  maxConcurrentTasks?: number
  resourceLimits?: ResourceLimits
  /** apply unshare/prlimit/nice to task processes. @default true */
  sandboxEnabled?: boolean
  /** 'debug' | 'info' | 'warn' | 'error' | 'silent'. @default 'info' */
  logLevel?: string
  /** @default a new registry with the built-ins */
  registry?: TaskRegistry
  /** what the operator granted. @default read_files + write_files, no allowed paths, 100 MB files */
  node?: Partial<NodePolicy>
  /** add echo, sleep, system_info, python_eval, command, file_operation when missing. @default true */
  builtins?: boolean
  /** how often deadlines, memory and CPU are checked. @default 100 */
  tickMs?: number
  /** onProgress is called with fresh usage every this many ticks. @default 5 */
  progressEveryTicks?: number
  /** how module handlers' child processes are kept (reuse, idle time, tasks per child) */
  processPool?: Omit<ChildPoolOptions, 'sandboxEnabled'>
  /** where handler logs go. @default console.error with a task prefix */
  logger?: (level: string, msg: string) => void
}

const LEVELS: Record<string, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }
/** output kept from a task's process when the handler asks for no cap */
const DEFAULT_OUTPUT_CAP = 1024 * 1024
const MB = 1024 * 1024
/** log lines kept per task, and their length */
const MAX_LOG_LINES_PER_TASK = 1000
const MAX_LOG_LINE = 2000
/** a handler process that has not said 'ready' by then is taken for hung */
const MAX_PROCESS_START_MS = 60_000

export class TaskExecutor {
  readonly registry: TaskRegistry
  readonly policy: NodePolicy
  readonly maxConcurrentTasks: number
  readonly sandboxEnabled: boolean
  private readonly limits: Required<ResourceLimits>
  private readonly running = new Map<string, Run>()
  private readonly pool: ChildPool
  private readonly tickMs: number
  private readonly progressEveryTicks: number
  private readonly logLevel: number
  private readonly logger: (level: string, msg: string) => void
  private ticker: NodeJS.Timeout | undefined
  private ticks = 0
  private closed = false
  private lastNodeCpu: { at: number, usage: NodeJS.CpuUsage } | undefined

  constructor (opts: TaskExecutorOptions = {}) {
    this.maxConcurrentTasks = opts.maxConcurrentTasks ?? 5
    if (!Number.isInteger(this.maxConcurrentTasks) || this.maxConcurrentTasks < 1) {
      throw new RangeError(`maxConcurrentTasks must be a positive integer, got ${String(opts.maxConcurrentTasks)}`)
    }
    this.limits = { ...DEFAULT_LIMITS, ...stripUndefined(opts.resourceLimits ?? {}) }
    this.sandboxEnabled = opts.sandboxEnabled ?? true
    this.policy = { ...DEFAULT_POLICY, ...stripUndefined(opts.node ?? {}) }
    this.registry = opts.registry ?? new TaskRegistry()
    if (opts.builtins ?? true) registerBuiltins(this.registry)
    if (this.sandboxEnabled) initNodeCgroups(this.limits.cpuPercent)
    this.pool = new ChildPool({ ...opts.processPool, sandboxEnabled: this.sandboxEnabled })
    this.tickMs = opts.tickMs ?? 100
    this.progressEveryTicks = opts.progressEveryTicks ?? 5
    this.logLevel = LEVELS[opts.logLevel?.toLowerCase() ?? 'info'] ?? LEVELS.info
    this.logger = opts.logger ?? ((level, msg) => { console.error(`[executor ${level}] ${msg}`) })
  }

  get activeCount (): number { return this.running.size }
  get freeSlots (): number { return Math.max(0, this.maxConcurrentTasks - this.running.size) }
  /** warm handler processes waiting for work */
  get idleProcesses (): number { return this.pool.idleCount }

  capabilities (): { taskTypes: string[], sandbox: SandboxFeatures } {
    const t = detectSandboxSync()
    const on = this.sandboxEnabled
    const cg = on ? initNodeCgroups(this.limits.cpuPercent) : { cpu: false, memory: false }
    // A node that may not let tasks reach the network (no network_access grant) but cannot cut it
    // (no working `unshare --net`: unprivileged Linux, Termux) refuses every command and module
    // handler at run time; advertising them would send it work that can only fail.
    const canIsolate = !on || t.network || this.policy.grants.includes('network_access')
    const taskTypes = this.registry.availableTypes(this.policy)
      .filter(type => canIsolate || (type !== 'command' && this.registry.entry(type)?.isolation !== 'process'))
    return {
      taskTypes,
      sandbox: { network: on && t.network, memory: on && (t.memory || cg.memory), cpu: on && (t.cpu || cg.cpu), filesystem: t.filesystem }
    }
  }

  /** cancels the task's `attempt` running here, or every attempt of it when none is given */
  cancel (taskId: string, attempt?: number): boolean {
    if (attempt !== undefined) {
      const run = this.running.get(`${taskId}:${attempt}`)
      run?.kill('cancel', 'cancelled')
      return run !== undefined
    }
    let found = false
    for (const run of this.running.values()) {
      if (run.taskId !== taskId) continue
      run.kill('cancel', 'cancelled')
      found = true
    }
    return found
  }

  async execute (task: TaskData, hooks: ExecHooks = {}): Promise<ExecOutcome> {
    const startedAt = Date.now()
    let entry: RegisteredHandler
    let limits: EffectiveLimits
    // by attempt: a retry may reach this node while its expired attempt is still being stopped
    const runKey = `${task.id}:${hooks.attempt ?? 1}`
    try {
      entry = this.admit(task, runKey)
      limits = effectiveLimits(task, this.limits, this.policy)
      entry.handler.validate?.(task.payload)
    } catch (err) {
      return { status: 'failed', error: toErrorData(err), startedAt, finishedAt: Date.now() }
    }
    const run = new Run(task.id, limits, hooks, startedAt)
    this.running.set(runKey, run)
    this.startTicker()
    const onAbort = (): void => run.kill('cancel', 'cancelled')
    if (hooks.signal !== undefined) {
      if (hooks.signal.aborted) run.kill('cancel', 'cancelled')
      else hooks.signal.addEventListener('abort', onAbort, { once: true })
    }
    try {
      hooks.onStart?.()
    } catch {}
    let value: unknown
    let error: unknown
    try {
      const ctx = this.context(task, hooks.attempt ?? 1, run)
      const p = entry.isolation === 'process'
        ? this.pool.run(entry, task, ctx, run)
        : entry.handler.execute(task.payload, ctx)
      if (isThenable(p)) {
        const settled = Promise.resolve(p)
        settled.catch(() => {}) // its rejection after a kill would otherwise be unhandled
        value = await Promise.race([settled, run.killed])
      } else value = p
    } catch (err) {
      error = err
    } finally {
      hooks.signal?.removeEventListener('abort', onAbort)
      this.running.delete(runKey)
      run.killProcesses() // nothing a task started outlives it
      if (this.running.size === 0) this.stopTicker()
    }
    return this.outcome(run, value, error, startedAt)
  }

  /** refuse before anything runs: closed, full, duplicate, unknown type, missing grants */
  private admit (task: TaskData, runKey: string): RegisteredHandler {
    if (this.closed) throw new UnsupportedOperationError('executor is closed')
    if (this.running.has(runKey)) throw new TaskFailure('invalid_payload', `task ${task.id} is already running here`)
    if (this.running.size >= this.maxConcurrentTasks) throw new ResourceExhaustedError(`no free slot (${this.maxConcurrentTasks} tasks running)`)
    const entry = this.registry.entry(task.taskType)
    if (entry === undefined) throw new UnsupportedOperationError(`task type "${task.taskType}" is not registered on this node`)
    const needed = [...(task.requiredPermissions ?? []), ...(entry.handler.requiredGrants?.(task.payload) ?? [])]
    const missing = [...new Set(needed.filter(p => !this.policy.grants.includes(p)))]
    if (missing.length > 0) throw new PermissionDeniedError(`this node does not grant ${missing.join(', ')}`, { missing })
    if (entry.handler.available?.(this.policy) === false) throw new UnsupportedOperationError(`task type "${task.taskType}" cannot run on this node`)
    return entry
  }

  private outcome (run: Run, value: unknown, error: unknown, startedAt: number): ExecOutcome {
    const finishedAt = Date.now()
    const resourceUsage = run.usage !== undefined ? { cpu: run.usage.cpu, memory: run.peakMemoryMb } : undefined
    const base = { startedAt, finishedAt, ...(resourceUsage !== undefined ? { resourceUsage } : {}) }
    switch (run.killReason) {
      case 'timeout': return { status: 'timeout', error: { type: 'timeout_error', message: run.killDetail }, ...base }
      case 'memory': return { status: 'failed', error: { type: 'resource_exhausted', message: run.killDetail }, ...base }
      case 'cancel': return { status: 'cancelled', error: { type: 'cancelled', message: run.killDetail }, ...base }
    }
    if (error !== undefined || value === KILLED) return { status: 'failed', error: toErrorData(error), ...base }
    return { status: 'completed', result: value, ...base }
  }

  private context (task: TaskData, attempt: number, run: Run): HandlerContext {
    return {
      taskId: task.id,
      attempt,
      // a getter: AbortController makes its signal on first read, ~1-3 % of a node's CPU per task
      // under load (profile of the one-connection bench) for inline handlers that never look at it
      get signal () { return run.controller.signal },
      policy: this.policy,
      limits: run.limits,
      progress: (pct: number) => {
        run.progressPct = Number.isFinite(pct) ? Math.min(100, Math.max(0, pct)) : run.progressPct
        run.reportProgress()
      },
      log: (msg: string) => {
        const n = ++run.logLines
        if (n <= MAX_LOG_LINES_PER_TASK) this.log('info', `${task.id}: ${String(msg).slice(0, MAX_LOG_LINE)}`)
        else if (n === MAX_LOG_LINES_PER_TASK + 1) this.log('warn', `${task.id}: more than ${MAX_LOG_LINES_PER_TASK} log lines; the rest are dropped`)
      },
      runProcess: async (file, args, opts) => await this.runProcess(run, file, args, opts)
    }
  }

  private async runProcess (run: Run, file: string, args: string[], opts: RunProcessOptions = {}): Promise<ProcessResult> {
    if (run.killReason !== undefined) throw new TaskFailure('cancelled', 'task was stopped before its process started')
    const limits = run.limits
    const { child, cgroup } = spawnSandboxed(file, args, {
      sandboxEnabled: this.sandboxEnabled,
      allowNetwork: limits.allowNetwork,
      addressSpaceBytes: (opts.limitAddressSpace ?? true) ? Math.max(limits.memoryBytes, opts.minAddressSpaceBytes ?? 0) : undefined,
      requireNetworkIsolation: opts.requireNetworkIsolation ?? true,
      cwd: opts.cwd,
      env: opts.env ?? minimalEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
      cgroup: { cpuPercent: limits.cpuPercent, memoryBytes: limits.memoryBytes }
    })
    run.track(child)
    const res = await collect(child, opts.maxOutputBytes ?? DEFAULT_OUTPUT_CAP, opts.input)
    if (cgroup?.oomKilled() === true) run.kill('memory', `killed by the kernel: over its memory limit of ${Math.round(limits.memoryBytes / MB)} MB`)
    return res
  }

  private log (level: string, msg: string): void {
    if ((LEVELS[level] ?? 20) >= this.logLevel) this.logger(level, msg)
  }

  private startTicker (): void {
    if (this.ticker !== undefined) return
    this.ticker = setInterval(() => this.tick(), this.tickMs)
    this.ticker.unref()
  }

  private stopTicker (): void {
    if (this.ticker === undefined) return
    clearInterval(this.ticker)
    this.ticker = undefined
  }

  /** deadlines, memory watchdog, and every few ticks fresh usage to onProgress */
  private tick (): void {
    const now = Date.now()
    const report = ++this.ticks % this.progressEveryTicks === 0
    let inline: { cpu: number, memoryMb: number } | undefined
    for (const run of this.running.values()) {
      if (run.killReason !== undefined) continue
      if (run.holdSince !== undefined) {
        if (now - run.holdSince > MAX_PROCESS_START_MS) run.kill('timeout', `its handler process did not start within ${MAX_PROCESS_START_MS / 1000} s`)
      } else if (now >= run.deadline) {
        run.kill('timeout', `exceeded its time limit of ${run.limits.timeoutMs / 1000} s`)
        continue
      }
      if (run.hasProcesses) {
        const rss = run.sampleProcesses(now)
        if (rss > run.limits.memoryBytes) {
          run.kill('memory', `used ${Math.round(rss / MB)} MB, over its memory limit of ${Math.round(run.limits.memoryBytes / MB)} MB`)
          continue
        }
      } else if (report) {
        // an inline handler has no process of its own: report the node process's figures
        inline ??= this.nodeUsage(now)
        run.setUsage(inline.cpu, inline.memoryMb)
      }
      if (report) run.reportProgress()
    }
  }

  private nodeUsage (now: number): { cpu: number, memoryMb: number } {
    const usage = process.cpuUsage()
    const prev = this.lastNodeCpu
    this.lastNodeCpu = { at: now, usage }
    let cpu = 0
    if (prev !== undefined && now > prev.at) {
      cpu = ((usage.user - prev.usage.user) + (usage.system - prev.usage.system)) / 10 / (now - prev.at)
    }
    return { cpu: Math.max(0, cpu), memoryMb: process.memoryUsage.rss() / MB }
  }

  /** cancel everything still running and refuse new work */
  async close (): Promise<void> {
    this.closed = true
    const runs = [...this.running.values()]
    for (const run of runs) run.kill('cancel', 'executor closed')
    await Promise.allSettled(runs.map(async r => await r.killed))
    this.pool.close()
    this.stopTicker()
  }
}

function isThenable (v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function'
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v
  return out
}
