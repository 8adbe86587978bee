// Seed "自定义任务类型": the Fibonacci handler. As a module (default export = the class) it can be
// loaded by every node with `retire-cluster start --handlers ./fibonacci-handler.js` (compile it
// to .js first) — then it runs in a child process. custom-handler.ts registers it in-process.
import { BaseTaskHandler, type HandlerContext, type TaskErrorData } from '../src/index.js'

export class FibonacciTaskHandler extends BaseTaskHandler {
  readonly taskType = 'fibonacci'

  /**
   * Runs before execute: a bad payload fails at once as invalid_payload (never retried). To choose
   * the recorded error type, throw a plain `{ type, message }` object (see docs/guide.md, errors).
   */
  override validate (payload: { n?: unknown }): void {
    const n = payload?.n ?? 10
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 40) {
      const error: TaskErrorData = { type: 'invalid_payload', message: 'payload.n: must be an integer 0..40' }
      throw error
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
