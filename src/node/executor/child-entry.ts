// Entry point of a handler's child process: import handler modules, run the tasks the parent sends
// one at a time, report each. Runs under the sandbox the parent set up (no network, lower
// priority, heap cap); the parent kills it on timeout, cancel or memory and on idle.

import { spawn } from 'node:child_process'
import { importHandlers, type BaseTaskHandler } from '../handlers/registry.js'
import { toErrorData, TaskFailure } from '../handlers/errors.js'
import type { HandlerContext, ProcessResult } from '../handlers/context.js'
import type { ChildToParent, ParentToChild, RunRequest } from './child-protocol.js'
import { collect } from './spawn.js'

const modules = new Map<string, BaseTaskHandler[]>()
let controller = new AbortController()

function send (msg: ChildToParent): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.send === undefined || !process.connected) { resolve(); return }
    try {
      process.send(msg, undefined, undefined, (err) => { if (err !== null && err !== undefined) reject(err); else resolve() })
    } catch (err) { reject(err) }
  })
}

async function handlerFor (req: RunRequest): Promise<BaseTaskHandler> {
  let handlers = modules.get(req.modulePath)
  if (handlers === undefined) {
    handlers = await importHandlers(req.modulePath)
    modules.set(req.modulePath, handlers)
  }
  const handler = handlers.find(h => h.taskType === req.taskType)
  if (handler === undefined) throw new TaskFailure('unsupported_operation', `module ${req.modulePath} has no handler for "${req.taskType}"`)
  return handler
}

function context (req: RunRequest): HandlerContext {
  return {
    taskId: req.taskId,
    attempt: req.attempt,
    signal: controller.signal,
    policy: req.policy,
    limits: req.limits,
    progress: (pct) => { send({ t: 'progress', pct }).catch(() => {}) },
    log: (m) => { send({ t: 'log', msg: String(m) }).catch(() => {}) },
    // already inside the task's sandbox: rlimits and namespaces are inherited
    runProcess: async (file, args, opts = {}): Promise<ProcessResult> => {
      const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] })
      return await collect(child, opts.maxOutputBytes ?? 1024 * 1024, opts.input)
    }
  }
}

async function run (req: RunRequest): Promise<void> {
  controller = new AbortController()
  let msg: ChildToParent
  try {
    const handler = await handlerFor(req)
    const value = await handler.execute(req.payload, context(req))
    msg = { t: 'done', ok: true, value }
  } catch (err) {
    msg = { t: 'done', ok: false, error: toErrorData(err) }
  }
  try {
    await send(msg)
  } catch (err) {
    // a result the IPC cannot carry (functions, sockets, ...)
    await send({ t: 'done', ok: false, error: { type: 'execution_error', message: `result is not serializable: ${(err as Error).message}` } })
  }
}

process.on('message', (m: ParentToChild) => {
  if (m.t === 'run') void run(m)
  else if (m.t === 'abort') controller.abort(new Error('cancelled'))
})
process.on('disconnect', () => process.exit(0))
void send({ t: 'ready' })
