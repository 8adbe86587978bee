// One running task: its abort controller, the processes it started, its deadline, live usage, and
// why it was killed. The executor's single ticker drives deadlines and sampling for all runs, so a
// short task costs no timers of its own.

import type { ChildProcess } from 'node:child_process'
import type { ResourceUsage } from '../../sched/types.js'
import type { EffectiveLimits } from '../handlers/context.js'
import { ProcSampler } from '../system/proc.js'
import { killTree } from './spawn.js'

export type KillReason = 'timeout' | 'memory' | 'cancel'

export interface RunHooks {
  onProgress? (pct: number, usage?: ResourceUsage): void
  onStart? (): void
}

interface Tracked { child: ChildProcess, sampler: ProcSampler | undefined, onExit: () => void }

/** resolved value of Run.killed, so a race can tell "killed" from any handler result */
export const KILLED: unique symbol = Symbol('killed')

const MB = 1024 * 1024

export class Run {
  readonly controller = new AbortController()
  /** ms since epoch; moved later by the time spent starting a handler process */
  deadline: number
  /** set while a handler process starts: Node's start-up is not the task's execution time */
  holdSince: number | undefined
  killReason: KillReason | undefined
  killDetail = ''
  progressPct = 0
  /** log lines this task has written (capped: a chatty handler must not flood the node's log) */
  logLines = 0
  usage: ResourceUsage | undefined
  peakMemoryMb = 0
  private readonly tracked: Tracked[] = []
  /** every process this run started and still owns, exited or not: its group may outlive it */
  private readonly owned = new Set<ChildProcess>()
  private resolveKilled!: (v: typeof KILLED) => void
  readonly killed: Promise<typeof KILLED>

  constructor (readonly taskId: string, readonly limits: EffectiveLimits, readonly hooks: RunHooks, startedAt: number) {
    this.deadline = startedAt + limits.timeoutMs
    this.killed = new Promise(resolve => { this.resolveKilled = resolve })
  }

  get hasProcesses (): boolean { return this.tracked.length > 0 }

  holdDeadline (now: number): void { this.holdSince = now }

  releaseDeadline (now: number): void {
    if (this.holdSince === undefined) return
    this.deadline += now - this.holdSince
    this.holdSince = undefined
  }

  track (child: ChildProcess): void {
    const t: Tracked = {
      child,
      sampler: child.pid !== undefined ? new ProcSampler(child.pid) : undefined,
      onExit: () => {
        const i = this.tracked.indexOf(t)
        if (i >= 0) this.tracked.splice(i, 1)
      }
    }
    this.tracked.push(t)
    this.owned.add(child)
    child.once('exit', t.onExit)
    // killed before the process even started: take it down at once
    if (this.killReason !== undefined) killTree(child)
  }

  /** a pooled child goes back to its pool: stop sampling and never kill it for this run */
  untrack (child: ChildProcess): void {
    this.owned.delete(child)
    const i = this.tracked.findIndex(t => t.child === child)
    if (i < 0) return
    child.removeListener('exit', this.tracked[i].onExit)
    this.tracked.splice(i, 1)
  }

  kill (reason: KillReason, detail: string): void {
    if (this.killReason !== undefined) return
    this.killReason = reason
    this.killDetail = detail
    this.controller.abort(new Error(detail))
    this.killProcesses()
    this.resolveKilled(KILLED)
  }

  /** kill every process group this run started, leaders gone or not; safe to call again */
  killProcesses (): void {
    for (const child of this.owned) {
      killTree(child)
      // a process that left the group may still hold the pipes: let collect() finish
      child.stdin?.destroy()
      child.stdout?.destroy()
      child.stderr?.destroy()
    }
  }

  /** sample the task's processes; returns their total RSS in bytes (0 if none) */
  sampleProcesses (now: number): number {
    let cpu = 0
    let rss = 0
    for (const t of this.tracked) {
      const s = t.sampler?.sample(now)
      if (s === undefined) continue
      cpu += s.cpu
      rss += s.rssBytes
    }
    this.setUsage(cpu, rss / MB)
    return rss
  }

  setUsage (cpu: number, memoryMb: number): void {
    const u = { cpu: Math.round(cpu * 10) / 10, memory: Math.round(memoryMb * 10) / 10 }
    this.usage = u
    if (u.memory > this.peakMemoryMb) this.peakMemoryMb = u.memory
  }

  reportProgress (): void {
    try { this.hooks.onProgress?.(this.progressPct, this.usage) } catch { /* a hook's bug is not the task's failure */ }
  }
}
