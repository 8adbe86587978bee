// Run a module handler in its own Node process: one fresh child per task, so a crash, a hang or a
// memory hog dies with its child and leaves nothing behind for the next task. The V8 heap is capped
// with --max-old-space-size (an address-space rlimit would break V8's large reservations); the
// executor's RSS watchdog covers the rest.

import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import type { TaskData } from '../../sched/types.js'
import type { HandlerContext } from '../handlers/context.js'
import type { RegisteredHandler } from '../handlers/registry.js'
import { ExecutionError, ResourceExhaustedError, TaskFailure } from '../handlers/errors.js'
import type { ChildToParent, RunRequest } from './child-protocol.js'
import type { Run } from './run.js'
import { minimalEnv, spawnSandboxed } from './spawn.js'

const SELF_IS_TS = import.meta.url.endsWith('.ts')
const ENTRY = fileURLToPath(new URL(SELF_IS_TS ? './child-entry.ts' : './child-entry.js', import.meta.url))
/** smallest heap we give a child: Node itself needs some to start */
const MIN_HEAP_MB = 32
/** stderr kept to explain a crash */
const STDERR_TAIL = 8 * 1024
const MB = 1024 * 1024

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

export interface ChildRunOptions { sandboxEnabled: boolean }

export async function runInChild (entry: RegisteredHandler, task: TaskData, ctx: HandlerContext, run: Run, o: ChildRunOptions): Promise<unknown> {
  if (entry.modulePath === undefined) throw new ExecutionError(`handler "${task.taskType}" has no module to run in a child`)
  const child = spawnSandboxed(process.execPath, childNodeArgs(entry.modulePath, ctx.limits.memoryBytes), {
    sandboxEnabled: o.sandboxEnabled,
    allowNetwork: ctx.limits.allowNetwork,
    requireNetworkIsolation: true,
    env: minimalEnv(),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced'
  })
  run.track(child)
  const req: RunRequest = {
    t: 'run',
    modulePath: entry.modulePath,
    taskType: task.taskType,
    taskId: ctx.taskId,
    attempt: ctx.attempt,
    payload: task.payload,
    policy: ctx.policy,
    limits: ctx.limits
  }
  return await talk(child, req, ctx)
}

function talk (child: ChildProcess, req: RunRequest, ctx: HandlerContext): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let stderr = ''
    let settled = false
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (s: string) => { stderr = (stderr + s).slice(-STDERR_TAIL) })
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (s: string) => { for (const line of s.split('\n')) if (line !== '') ctx.log(line.slice(0, 1000)) })
    child.on('message', (m: ChildToParent) => {
      switch (m.t) {
        case 'ready': child.send(req); break
        case 'progress': ctx.progress(m.pct); break
        case 'log': ctx.log(m.msg); break
        case 'done':
          settled = true
          if (m.ok) resolve(m.value)
          else reject(new TaskFailure(m.error.type, m.error.message, m.error.details))
          break
      }
    })
    child.once('error', (err) => { if (!settled) { settled = true; reject(new ExecutionError(`cannot start handler process: ${err.message}`)) } })
    child.once('exit', (code, signal) => {
      if (settled) return
      settled = true
      reject(crashError(code, signal, stderr))
    })
  })
}

/** why a child died without answering: V8's heap limit means resource_exhausted, anything else a crash */
function crashError (code: number | null, signal: string | null, stderr: string): TaskFailure {
  const tail = stderr.trim().split('\n').slice(-5).join(' | ')
  if (/heap out of memory|Reached heap limit|Allocation failed/i.test(stderr)) {
    return new ResourceExhaustedError('handler process ran out of its memory limit (V8 heap)')
  }
  const how = signal !== null ? `signal ${signal}` : `exit code ${String(code)}`
  return new ExecutionError(`handler process died (${how})${tail !== '' ? `: ${tail}` : ''}`)
}
