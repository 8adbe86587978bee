// Module handlers run in child Node processes, so a crash, a hang or a memory hog dies with its
// child and never takes the node down. Starting Node costs ~0.1-0.5 s on the devices we target
// (see scripts/bench-executor.ts), so a child that finished a task cleanly is kept warm for the
// next task of the same module and sandbox; one that was killed, crashed, or ran maxTasksPerChild
// tasks is thrown away. With `reuse: false` every task gets a fresh process.
//
// The V8 heap is capped with --max-old-space-size (an address-space rlimit would break V8's large
// reservations); the executor's RSS watchdog covers memory outside the heap.

import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import type { TaskData } from '../../sched/types.js'
import type { EffectiveLimits, HandlerContext } from '../handlers/context.js'
import type { RegisteredHandler } from '../handlers/registry.js'
import { ExecutionError, ResourceExhaustedError, TaskFailure } from '../handlers/errors.js'
import type { RunRequest } from './child-protocol.js'
import type { TaskErrorData } from '../../sched/types.js'
import type { Run } from './run.js'
import { killTree, minimalEnv, spawnSandboxed } from './spawn.js'
import type { TaskCgroup } from '../system/cgroup.js'

const SELF_IS_TS = import.meta.url.endsWith('.ts')
const ENTRY = fileURLToPath(new URL(SELF_IS_TS ? './child-entry.ts' : './child-entry.js', import.meta.url))
/** smallest heap we give a child: Node itself needs some to start */
const MIN_HEAP_MB = 32
/** stderr kept to explain a crash */
const STDERR_TAIL = 8 * 1024
const MB = 1024 * 1024

export interface ChildPoolOptions {
  sandboxEnabled: boolean
  /** keep a child that finished cleanly for the next task. @default true */
  reuse?: boolean
  /** idle children kept per (module, sandbox). @default 2 */
  maxIdlePerKey?: number
  /**
   * idle children kept in all: the sandbox's memory and CPU limits are part of the key, so tasks
   * asking for many different limits would otherwise keep two warm Node processes (~40 MB each)
   * per limit — more than an old phone has. The least recently used goes first. @default 4
   */
  maxIdle?: number
  /** an idle child is stopped after this long. @default 30000 */
  idleMs?: number
  /** a child is retired after this many tasks (bounds leaks between tasks). @default 500 */
  maxTasksPerChild?: number
}

let tsxSpecifier: string | undefined
function tsxImport (): string {
  if (tsxSpecifier === undefined) {
    try { tsxSpecifier = import.meta.resolve('tsx') } catch { tsxSpecifier = 'tsx' }
  }
  return tsxSpecifier
}

/** node flags for a child that must load `modulePath` */
export function childNodeArgs (modulePath: string, memoryBytes: number): string[] {
  const args: string[] = []
  if (SELF_IS_TS || /\.[mc]?ts$/.test(modulePath)) args.push('--import', tsxImport())
  if (Number.isFinite(memoryBytes)) args.push(`--max-old-space-size=${Math.max(MIN_HEAP_MB, Math.floor(memoryBytes / MB))}`)
  args.push(ENTRY)
  return args
}

/** why a child died without answering: V8's heap limit means resource_exhausted, anything else a crash */
function crashError (code: number | null, signal: string | null, stderr: string): TaskFailure {
  if (/heap out of memory|Reached heap limit|Allocation failed/i.test(stderr)) {
    return new ResourceExhaustedError('handler process ran out of its memory limit (V8 heap)')
  }
  const tail = stderr.trim().split('\n').slice(-5).join(' | ')
  const how = signal !== null ? `signal ${signal}` : `exit code ${String(code)}`
  return new ExecutionError(`handler process died (${how})${tail !== '' ? `: ${tail}` : ''}`)
}

interface Current { resolve: (v: unknown) => void, reject: (e: unknown) => void, ctx: HandlerContext }

/** one child process and the task it is running, if any */
class HandlerChild {
  readonly ready: Promise<void>
  tasksRun = 0
  dead = false
  idleTimer: NodeJS.Timeout | undefined
  /** when it last went idle (the pool's least recently used goes first) */
  idleSince = 0
  private stderr = ''
  private current: Current | undefined

  constructor (readonly child: ChildProcess, readonly cgroup: TaskCgroup | undefined) {
    let readyResolve!: () => void
    let readyReject!: (e: unknown) => void
    this.ready = new Promise((resolve, reject) => { readyResolve = resolve; readyReject = reject })
    this.ready.catch(() => {})
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (s: string) => { this.stderr = (this.stderr + s).slice(-STDERR_TAIL) })
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (s: string) => {
      for (const line of s.split('\n')) if (line !== '') this.current?.ctx.log(line.slice(0, 1000))
    })
    child.on('message', (m: unknown) => this.onMessage(m, readyResolve, readyReject))
    child.once('error', (err) => this.die(new ExecutionError(`cannot start handler process: ${err.message}`), readyReject))
    child.once('exit', (code, signal) => this.die(crashError(code, signal, this.stderr), readyReject))
  }

  /**
   * The child runs the handler's code, which can also call process.send itself: nothing it sends is
   * trusted. A message of the wrong shape (a throw here would be uncaught, and take the node down)
   * fails the task as the handler's crash does, and the process is not reused.
   */
  private onMessage (raw: unknown, readyResolve: () => void, readyReject: (e: unknown) => void): void {
    const cur = this.current
    const m = raw as Partial<Record<string, unknown>> | null
    switch (m === null || typeof m !== 'object' ? undefined : m.t) {
      case 'ready': readyResolve(); break
      case 'progress': cur?.ctx.progress(Number(m!.pct)); break
      case 'log': cur?.ctx.log(String(m!.msg)); break
      case 'done': {
        this.current = undefined
        if (cur === undefined) break
        if (m!.ok === true) { cur.resolve(m!.value); break }
        const e = m!.error as Partial<TaskErrorData> | null | undefined
        if (e === null || typeof e !== 'object' || typeof e.type !== 'string' || typeof e.message !== 'string') {
          this.die(new ExecutionError('the handler process reported a failure of the wrong shape'), readyReject)
          cur.reject(new ExecutionError('the handler process reported a failure of the wrong shape'))
          break
        }
        cur.reject(new TaskFailure(e.type as TaskFailure['type'], e.message, e.details))
        break
      }
      default:
        this.die(new ExecutionError(`the handler process sent a message of the wrong shape (${m === null ? 'null' : typeof m === 'object' ? `t=${String(m.t).slice(0, 40)}` : typeof m})`), readyReject)
    }
  }

  private die (err: TaskFailure, readyReject: (e: unknown) => void): void {
    if (this.dead) return
    this.dead = true
    readyReject(err)
    const cur = this.current
    this.current = undefined
    cur?.reject(err)
  }

  run (req: RunRequest, ctx: HandlerContext): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.dead) { reject(new ExecutionError('handler process is gone')); return }
      this.current = { resolve, reject, ctx }
      this.child.send(req, (err) => { if (err !== null && err !== undefined) this.die(new ExecutionError(`cannot send task to handler process: ${err.message}`), () => {}) })
    })
  }
}

export class ChildPool {
  private readonly idle = new Map<string, HandlerChild[]>()
  private readonly reuse: boolean
  private readonly maxIdlePerKey: number
  private readonly maxIdle: number
  private idleTotal = 0
  private readonly idleMs: number
  private readonly maxTasksPerChild: number

  constructor (private readonly opts: ChildPoolOptions) {
    this.reuse = opts.reuse ?? true
    this.maxIdlePerKey = opts.maxIdlePerKey ?? 2
    this.maxIdle = opts.maxIdle ?? 4
    this.idleMs = opts.idleMs ?? 30_000
    this.maxTasksPerChild = opts.maxTasksPerChild ?? 500
  }

  async run (entry: RegisteredHandler, task: TaskData, ctx: HandlerContext, run: Run): Promise<unknown> {
    const modulePath = entry.modulePath
    if (modulePath === undefined) throw new ExecutionError(`handler "${task.taskType}" has no module to run in a child`)
    const key = poolKey(modulePath, ctx.limits)
    const hc = this.take(key) ?? this.spawn(modulePath, ctx.limits)
    run.track(hc.child)
    let clean = false
    try {
      if (hc.tasksRun === 0) {
        // a fresh process: its start-up does not count against the task's time limit
        run.holdDeadline(Date.now())
        try { await hc.ready } finally { run.releaseDeadline(Date.now()) }
      }
      const value = await hc.run(request(modulePath, task, ctx), ctx)
      clean = true
      return value
    } catch (err) {
      if (hc.dead && hc.cgroup?.oomKilled() === true) {
        run.kill('memory', `killed by the kernel: over its memory limit of ${Math.round(ctx.limits.memoryBytes / MB)} MB`)
      }
      // a handler's own error leaves its process usable; a crash does not
      clean = err instanceof TaskFailure && !hc.dead
      throw err
    } finally {
      run.untrack(hc.child)
      this.release(key, hc, clean && run.killReason === undefined)
    }
  }

  private take (key: string): HandlerChild | undefined {
    const list = this.idle.get(key)
    while (list !== undefined && list.length > 0) {
      const hc = list.pop()!
      this.idleTotal--
      clearTimeout(hc.idleTimer)
      if (list.length === 0) this.idle.delete(key)
      if (!hc.dead) return hc
      killTree(hc.child)
    }
    return undefined
  }

  /** stops one idle child and forgets it (an empty list goes too: keys are many, see maxIdle) */
  private drop (key: string, hc: HandlerChild): void {
    const l = this.idle.get(key)
    const i = l?.indexOf(hc) ?? -1
    if (i < 0) return
    l!.splice(i, 1)
    if (l!.length === 0) this.idle.delete(key)
    this.idleTotal--
    clearTimeout(hc.idleTimer)
    killTree(hc.child)
  }

  private spawn (modulePath: string, limits: EffectiveLimits): HandlerChild {
    const { child, cgroup } = spawnSandboxed(process.execPath, childNodeArgs(modulePath, limits.memoryBytes), {
      sandboxEnabled: this.opts.sandboxEnabled,
      allowNetwork: limits.allowNetwork,
      requireNetworkIsolation: true,
      env: minimalEnv(),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
      cgroup: { cpuPercent: limits.cpuPercent, memoryBytes: limits.memoryBytes }
    })
    return new HandlerChild(child, cgroup)
  }

  private release (key: string, hc: HandlerChild, reusable: boolean): void {
    hc.tasksRun++
    let list = this.idle.get(key)
    if (!this.reuse || !reusable || hc.dead || hc.tasksRun >= this.maxTasksPerChild || (list?.length ?? 0) >= this.maxIdlePerKey) {
      killTree(hc.child)
      return
    }
    if (this.maxIdle <= 0) { killTree(hc.child); return }
    // at the cap: the child idle longest makes room (each list is oldest first; the cap is small)
    while (this.idleTotal >= this.maxIdle) {
      let oldest: { key: string, hc: HandlerChild } | undefined
      for (const [k, l] of this.idle) if (l.length > 0 && (oldest === undefined || l[0]!.idleSince < oldest.hc.idleSince)) oldest = { key: k, hc: l[0]! }
      if (oldest === undefined) break
      this.drop(oldest.key, oldest.hc)
    }
    list = this.idle.get(key)
    if (list === undefined) { list = []; this.idle.set(key, list) }
    list.push(hc)
    this.idleTotal++
    hc.idleSince = Date.now()
    hc.idleTimer = setTimeout(() => { this.drop(key, hc) }, this.idleMs)
    hc.idleTimer.unref()
  }

  /** children waiting for work (for tests and metrics) */
  get idleCount (): number { return this.idleTotal }

  close (): void {
    for (const list of this.idle.values()) {
      for (const hc of list) { clearTimeout(hc.idleTimer); killTree(hc.child) }
    }
    this.idle.clear()
    this.idleTotal = 0
  }
}

/** children are shared only between tasks with the same module and the same sandbox */
function poolKey (modulePath: string, l: EffectiveLimits): string {
  return `${modulePath}\0${l.allowNetwork ? 'net' : 'nonet'}\0${l.memoryBytes}\0${l.cpuPercent}`
}

function request (modulePath: string, task: TaskData, ctx: HandlerContext): RunRequest {
  return {
    t: 'run',
    modulePath,
    taskType: task.taskType,
    taskId: ctx.taskId,
    attempt: ctx.attempt,
    payload: task.payload,
    policy: ctx.policy,
    limits: ctx.limits
  }
}
