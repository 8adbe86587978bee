// Entry point of a handler's child process: import the handler module, run one task, report, exit.
// Runs under the task's sandbox (no network, lower priority, heap cap) set up by the parent.

import { importHandlers } from '../handlers/registry.js'
import { toErrorData, TaskFailure } from '../handlers/errors.js'
import type { HandlerContext, ProcessResult } from '../handlers/context.js'
import type { ChildToParent, ParentToChild, RunRequest } from './child-protocol.js'
import { spawn } from 'node:child_process'
import { collect } from './spawn.js'

const controller = new AbortController()

function send (msg: ChildToParent): Promise<void> {
  return new Promise(resolve => {
    if (process.send === undefined || !process.connected) { resolve(); return }
    process.send(msg, undefined, undefined, () => resolve())
  })
}

async function run (req: RunRequest): Promise<void> {
  let msg: ChildToParent
  try {
    const handlers = await importHandlers(req.modulePath)
    const handler = handlers.find(h => h.taskType === req.taskType)
    if (handler === undefined) throw new TaskFailure('unsupported_operation', `module ${req.modulePath} has no handler for "${req.taskType}"`)
    const ctx: HandlerContext = {
      taskId: req.taskId,
      attempt: req.attempt,
      signal: controller.signal,
      policy: req.policy,
      limits: req.limits,
      progress: (pct) => { void send({ t: 'progress', pct }) },
      log: (m) => { void send({ t: 'log', msg: String(m) }) },
      // already inside the task's sandbox: limits and namespaces are inherited
      runProcess: async (file, args, opts = {}): Promise<ProcessResult> => {
        const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] })
        return await collect(child, opts.maxOutputBytes ?? 1024 * 1024, opts.input)
      }
    }
    const value = await handler.execute(req.payload, ctx)
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
  process.exit(0)
}

process.on('message', (m: ParentToChild) => {
  if (m.t === 'run') void run(m)
  else if (m.t === 'abort') controller.abort(new Error('cancelled'))
})
process.on('disconnect', () => process.exit(0))
void send({ t: 'ready' })
