// Seed "自定义任务类型": the Fibonacci handler. As a module (default export = the class) it can be
// loaded by every node with `retire-cluster start --handlers ./fibonacci-handler.js` (compile it
// to .js first) — then it runs in a child process. custom-handler.ts registers it in-process.
import { BaseTaskHandler, type HandlerContext } from '../src/index.js'

export class FibonacciTaskHandler extends BaseTaskHandler {
  readonly taskType = 'fibonacci'

  /** runs before execute: a bad payload fails at once as invalid_payload (never retried) */
  override validate (payload: { n?: unknown }): void {
    const n = payload?.n ?? 10
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 40) {
      throw Object.assign(new Error('payload.n: must be an integer 0..40'), { type: 'invalid_payload' })
    }
  }

  execute (payload: { n?: number }, ctx: HandlerContext): { input: number, result: number, algorithm: string } {
    const n = payload.n ?? 10
    const fibonacci = (k: number): number => (k <= 1 ? k : fibonacci(k - 1) + fibonacci(k - 2))
    ctx.progress(50)
    return { input: n, result: fibonacci(n), algorithm: 'recursive' }
  }
}

export default FibonacciTaskHandler
