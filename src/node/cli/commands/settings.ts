// `retire-cluster settings`: show the cluster's settings; with flags, change them through the leader
// (admin only). The same settings the start flags seed (--retention, --max-queue, --rate-limit,
// --no-preemption, --no-quarantine), changed on a live cluster without restarting a node, and
// --max-retained (the most finished tasks kept; no start flag: one setting for the whole cluster).

import { Command, InvalidArgumentError } from 'commander'
import { addClientOptions, clientFrom, type ClientFlags } from '../context.js'
import { UsageError } from '../errors.js'
import { json, type CliIo } from '../io.js'
import { durationOpt, intOpt, rateLimitOpt } from '../parse.js'
import type { ClusterSettings, ClusterSettingsPatch, RateLimitRule } from '../../../sched/commands.js'
import { DEFAULT_MAX_RETAINED_TASKS } from '../../../sched/retention.js'

interface SettingsFlags extends ClientFlags {
  retention?: number
  maxQueue?: number
  maxRetained?: number
  rateLimit?: RateLimitRule[]
  clearRateLimits?: boolean
  preemption?: 'on' | 'off'
  quarantine?: 'on' | 'off'
  reset?: string[]
}

const RESETTABLE = ['retentionMs', 'maxQueueSize', 'maxRetainedTasks', 'rateLimits', 'reliability', 'preemption'] as const

export function settingsCommand (io: CliIo): Command {
  const cmd = new Command('settings').description('show the cluster settings; with flags, change them (admin)')
    .option('--retention <duration>', 'keep finished tasks this long, then evict them (e.g. 24h, 60s)', durationOpt('--retention'))
    .option('--max-queue <n>', 'most tasks waiting in the queue', intOpt('--max-queue', 1))
    .option('--max-retained <n>', 'most finished tasks kept; the oldest go before their retention ends (0 keeps none)', intOpt('--max-retained', 0))
    .option('--rate-limit <rule>', '[type:|principal:]NAME=N/UNIT, repeatable; replaces every rule', rateLimitOpt)
    .option('--clear-rate-limits', 'remove every rate limit')
    .option('--preemption <on|off>', 'URGENT/HIGH work may preempt LOW/BACKGROUND work', onOff('--preemption'))
    .option('--quarantine <on|off>', 'quarantine devices that fail distinct tasks', onOff('--quarantine'))
    .option('--reset <names>', `back to the default: ${RESETTABLE.join(',')}`, (v: string, prev: string[] = []) => [...prev, ...v.split(',').map(s => s.trim()).filter(s => s !== '')])
  addClientOptions(cmd)
  cmd.action(async (flags: SettingsFlags) => {
    const patch = toPatch(flags)
    const client = await clientFrom(flags)
    const s = Object.keys(patch).length === 0 ? await client.settings() : await client.updateSettings(patch)
    io.out(flags.json === true ? json(s) : describe(s))
  })
  return cmd
}

export function toPatch (f: SettingsFlags): ClusterSettingsPatch {
  const p: ClusterSettingsPatch = {}
  for (const name of f.reset ?? []) {
    if (!(RESETTABLE as readonly string[]).includes(name)) throw new UsageError(`--reset: unknown setting "${name}" (one of ${RESETTABLE.join(', ')})`)
    ;(p as Record<string, null>)[name] = null
  }
  if (f.retention !== undefined) p.retentionMs = f.retention
  if (f.maxQueue !== undefined) p.maxQueueSize = f.maxQueue
  if (f.maxRetained !== undefined) p.maxRetainedTasks = f.maxRetained
  if (f.rateLimit !== undefined && f.clearRateLimits === true) throw new UsageError('--rate-limit and --clear-rate-limits contradict each other')
  if (f.rateLimit !== undefined) p.rateLimits = f.rateLimit
  if (f.clearRateLimits === true) p.rateLimits = null
  if (f.preemption !== undefined) p.preemption = { enabled: f.preemption === 'on' }
  if (f.quarantine !== undefined) p.reliability = f.quarantine === 'on' ? null : { quarantineFailures: 0 }
  return p
}

function onOff (flag: string) {
  return (v: string): 'on' | 'off' => {
    if (v !== 'on' && v !== 'off') throw new InvalidArgumentError(`${flag}: on or off, not "${v}"`)
    return v
  }
}

function ms (n: number): string {
  if (n % 86_400_000 === 0) return `${n / 86_400_000}d`
  if (n % 3_600_000 === 0) return `${n / 3_600_000}h`
  if (n % 60_000 === 0) return `${n / 60_000}m`
  return n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`
}

function describe (s: ClusterSettings): string {
  const rules = (s.rateLimits ?? []).map(r => `${r.scope}:${r.key}=${r.count}/${r.perSeconds}s`)
  return [
    `retention     ${s.retentionMs !== undefined ? ms(s.retentionMs) : 'default (24h)'}`,
    `max queue     ${s.maxQueueSize ?? 'default (100000)'}`,
    `max retained  ${s.maxRetainedTasks ?? `default (${DEFAULT_MAX_RETAINED_TASKS})`} finished tasks`,
    `rate limits   ${rules.length > 0 ? rules.join(', ') : 'none'}`,
    `reliability   ${s.reliability !== undefined ? JSON.stringify(s.reliability) : 'defaults'}`,
    `preemption    ${s.preemption !== undefined ? JSON.stringify(s.preemption) : 'defaults (on)'}`
  ].join('\n')
}
