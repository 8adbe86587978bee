import { existsSync } from 'node:fs'
import { BaseTaskHandler } from '../registry.js'
import type { HandlerContext, NodePolicy } from '../context.js'
import type { Permission } from '../../../sched/types.js'
import { asObject, bool, num, str, describe, type Obj } from '../payload.js'
import { ExecutionError, InvalidPayloadError } from '../errors.js'
import { confine } from '../paths.js'

/** captured stdout/stderr per stream unless the payload asks for less */
const DEFAULT_OUTPUT_CAP = 64 * 1024
const MAX_OUTPUT_CAP = 1024 * 1024
const MAX_ARGS = 1000
/** Termux has no /bin/sh; its shell lives under $PREFIX */
const SHELL = existsSync('/bin/sh') ? '/bin/sh' : `${process.env.PREFIX ?? '/usr'}/bin/sh`

interface CommandPayload {
  command: string | string[]
  shell?: boolean
  cwd?: string
  input?: string
  env?: Record<string, string>
  maxOutputBytes?: number
  /** fail the task (execution_error) on a non-zero exit; by default the exit code is just reported */
  check?: boolean
}

/**
 * Runs a program: argv (`command: ["ls", "-la"]`), or a shell line with `shell: true`. Only where
 * the operator granted system_commands; cwd inside the allowed paths; no network unless the node
 * grants network_access; output capped; the exit code is in the result.
 */
export class CommandHandler extends BaseTaskHandler {
  readonly taskType = 'command'
  override readonly isolation = 'inline' as const // the program is the child process

  override requiredGrants (): Permission[] { return ['system_commands'] }
  override available (policy: NodePolicy): boolean { return policy.grants.includes('system_commands') }

  override validate (payload: unknown): void {
    const o = asObject(payload)
    const shell = bool(o, 'shell') ?? false
    argvOf(o, shell)
    str(o, 'cwd', { optional: true, nonEmpty: true })
    str(o, 'input', { optional: true, maxLength: MAX_OUTPUT_CAP })
    num(o, 'maxOutputBytes', { optional: true, min: 0, max: MAX_OUTPUT_CAP })
    bool(o, 'check')
    if (o.env !== undefined) {
      const env = asObject(o.env, 'env')
      for (const [k, v] of Object.entries(env)) if (typeof v !== 'string') throw new InvalidPayloadError(`env.${k}`, `must be a string, got ${describe(v)}`)
    }
  }

  async execute (payload: CommandPayload, ctx: HandlerContext): Promise<unknown> {
    const shell = payload.shell ?? false
    const argv = argvOf(payload as unknown as Obj, shell)
    const cwd = await confine(payload.cwd ?? '.', ctx.policy.allowedPaths, ctx.limits.taskPaths, 'cwd')
    const res = await ctx.runProcess(argv[0], argv.slice(1), {
      cwd,
      input: payload.input,
      env: payload.env !== undefined ? { ...baseEnv(), ...payload.env } : undefined,
      maxOutputBytes: payload.maxOutputBytes ?? DEFAULT_OUTPUT_CAP
    })
    if (ctx.signal.aborted) throw ctx.signal.reason
    const result = { exitCode: res.exitCode, signal: res.signal, stdout: res.stdout, stderr: res.stderr, truncated: res.truncated }
    if (payload.check === true && res.exitCode !== 0) {
      throw new ExecutionError(`command exited with ${res.exitCode !== null ? `code ${res.exitCode}` : `signal ${String(res.signal)}`}`, result)
    }
    return result
  }
}

function argvOf (o: Obj, shell: boolean): string[] {
  const c = o.command
  if (shell) {
    if (typeof c !== 'string' || c.trim() === '') throw new InvalidPayloadError('command', `with shell: true must be a non-empty string, got ${describe(c)}`)
    return [SHELL, '-c', c]
  }
  if (typeof c === 'string') {
    // no shell: split on whitespace only (no quoting); use an argv array for anything subtler
    const parts = c.trim().split(/\s+/)
    if (parts[0] === '') throw new InvalidPayloadError('command', 'must not be empty')
    return parts
  }
  if (!Array.isArray(c) || c.length === 0 || c.length > MAX_ARGS) throw new InvalidPayloadError('command', `must be a string or a non-empty array of strings, got ${describe(c)}`)
  c.forEach((a, i) => { if (typeof a !== 'string') throw new InvalidPayloadError(`command[${i}]`, `must be a string, got ${describe(a)}`) })
  return c as string[]
}

function baseEnv (): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' }
}
