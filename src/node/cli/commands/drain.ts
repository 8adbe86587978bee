// `retire-cluster drain [--deadline 2m]` and `retire-cluster undrain`: this node stops taking new
// work and hands its running tasks off (or finishes them) within the deadline; undrain lifts it.

import { Command } from 'commander'
import { addClientOptions, clientFrom, type ClientFlags } from '../context.js'
import { UsageError } from '../errors.js'
import { MSG } from '../messages.js'
import { json, type CliIo } from '../io.js'
import type { DrainStatus } from '../../api-types.js'

/** "90s", "2m", "1h", "500ms" or plain seconds → ms */
export function parseDuration (v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim())
  if (m === null) throw new UsageError(`--deadline: "${v}" is not a duration (e.g. 90s, 2m, 1h)`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']
  return Math.round(Number(m[1]) * unit)
}

function show (io: CliIo, flags: ClientFlags, s: DrainStatus): void {
  io.out(flags.json === true ? json(s) : MSG.drainState(s.state, s.reason, s.drainLeftMs, s.runningTasks))
}

export function drainCommand (io: CliIo): Command {
  const cmd = new Command('drain').description(MSG.drainDesc)
    .option('--deadline <duration>', 'hand running tasks off within this (default 2m)')
    .option('--reason <text>', 'shown on `nodes` and the dashboard')
  addClientOptions(cmd)
  cmd.action(async (flags: ClientFlags & { deadline?: string, reason?: string }) => {
    const opts: { deadlineMs?: number, reason?: string } = {}
    if (flags.deadline !== undefined) opts.deadlineMs = parseDuration(flags.deadline)
    if (flags.reason !== undefined) opts.reason = flags.reason
    show(io, flags, await (await clientFrom(flags)).drain(opts))
  })
  return cmd
}

export function undrainCommand (io: CliIo): Command {
  const cmd = new Command('undrain').description(MSG.undrainDesc)
  addClientOptions(cmd)
  cmd.action(async (flags: ClientFlags) => { show(io, flags, await (await clientFrom(flags)).undrain()) })
  return cmd
}
