import { BaseTaskHandler } from '../registry.js'
import type { HandlerContext, NodePolicy } from '../context.js'
import { asObject, str } from '../payload.js'
import { ExecutionError, ResourceExhaustedError, TaskFailure, UnsupportedOperationError } from '../errors.js'
import { detectSandboxSync } from '../../system/sandbox.js'
import { PYTHON_EVAL_SCRIPT } from './python-eval-script.js'
import type { TaskErrorType } from '../../../sched/types.js'

/** longest expression accepted */
const MAX_EXPRESSION = 100_000
/** output we read back: the JSON answer (values are capped on the Python side too) */
const MAX_OUTPUT = 4 * 1024 * 1024
/** python itself needs some address space to start; a tighter limit would just fail to start */
const MIN_PY_ADDRESS_SPACE = 64 * 1024 * 1024

/**
 * A real Python expression, parsed and checked against a whitelist in a python3 child, then
 * evaluated there with only safe builtins. The AST check refuses before anything runs.
 */
export class PythonEvalHandler extends BaseTaskHandler {
  readonly taskType = 'python_eval'
  override readonly isolation = 'inline' as const // the evaluation itself runs in a python3 child

  override available (_policy: NodePolicy): boolean { return detectSandboxSync().python3 }

  override validate (payload: unknown): void {
    str(asObject(payload), 'expression', { nonEmpty: true, maxLength: MAX_EXPRESSION })
  }

  async execute (payload: { expression: string }, ctx: HandlerContext): Promise<unknown> {
    const py = detectSandboxSync().python3Path
    if (py === undefined) throw new UnsupportedOperationError('python3 is not available on this node')
    const res = await ctx.runProcess(py, ['-I', '-S', '-B', '-c', PYTHON_EVAL_SCRIPT], {
      input: payload.expression,
      maxOutputBytes: MAX_OUTPUT,
      // the whitelist already keeps sockets out; cut the network too where the node can
      requireNetworkIsolation: false,
      limitAddressSpace: true,
      minAddressSpaceBytes: MIN_PY_ADDRESS_SPACE
    })
    if (ctx.signal.aborted) throw ctx.signal.reason
    let answer: { ok: boolean, type?: TaskErrorType, message?: string, value?: unknown }
    try {
      answer = JSON.parse(res.stdout)
    } catch {
      if (/MemoryError|Cannot allocate memory/.test(res.stderr)) throw new ResourceExhaustedError('python_eval ran out of its memory limit')
      throw new ExecutionError(`python3 gave no answer (exit ${String(res.exitCode ?? res.signal)}): ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`)
    }
    if (!answer.ok) throw new TaskFailure(answer.type ?? 'execution_error', answer.message ?? 'python_eval failed')
    // the value itself (JSON-able form; ints beyond 2^53 as decimal strings, others as repr)
    return answer.value
  }
}
