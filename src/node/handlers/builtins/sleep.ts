import { BaseTaskHandler } from '../registry.js'
import type { HandlerContext } from '../context.js'
import { asObject, num } from '../payload.js'

/** longest sleep accepted; the task's own timeout still applies */
const MAX_SLEEP_S = 86_400
/** progress is reported at most this often */
const MIN_STEP_MS = 100
const MAX_STEP_MS = 1000

/** sleeps payload.duration seconds, reporting progress, ending early when cancelled */
export class SleepHandler extends BaseTaskHandler {
  readonly taskType = 'sleep'
  override readonly isolation = 'inline' as const

  override validate (payload: unknown): void {
    num(asObject(payload), 'duration', { min: 0, max: MAX_SLEEP_S })
  }

  async execute (payload: { duration: number }, ctx: HandlerContext): Promise<unknown> {
    const totalMs = payload.duration * 1000
    const step = Math.min(MAX_STEP_MS, Math.max(MIN_STEP_MS, totalMs / 20))
    const start = Date.now()
    while (true) {
      const elapsed = Date.now() - start
      if (elapsed >= totalMs) break
      await wait(Math.min(step, totalMs - elapsed), ctx.signal)
      if (ctx.signal.aborted) throw ctx.signal.reason
      ctx.progress(Math.min(100, (Date.now() - start) * 100 / Math.max(1, totalMs)))
    }
    return { slept: payload.duration }
  }
}

function wait (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    if (signal.aborted) { resolve(); return }
    const done = (): void => { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    const t = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
