// `retire-cluster nodes`: the devices table.

import { Command } from 'commander'
import { addClientOptions, clientFrom, type ClientFlags } from '../context.js'
import { MSG } from '../messages.js'
import { json, formatTable, ago, type CliIo } from '../io.js'
import type { NodeInfo } from '../../api-types.js'

/** "0.92", "0.41 quarantined 37m", "0.60 probation" */
function reliability (r: NodeInfo['reliability'] | undefined): string {
  if (r === undefined) return '-'
  const score = r.score.toFixed(2)
  if (r.health === 'quarantined' && r.quarantinedUntil !== undefined) return `${score} quarantined ${ago(Math.max(0, r.quarantinedUntil - Date.now()))}`
  return r.health === 'ok' ? score : `${score} ${r.health}`
}

export function nodesCommand (io: CliIo): Command {
  const cmd = new Command('nodes').description(MSG.nodesDesc)
  addClientOptions(cmd)
  cmd.action(async (flags: ClientFlags) => {
    const nodes = await (await clientFrom(flags)).nodes()
    if (flags.json === true) return io.out(json(nodes))
    if (nodes.length === 0) return io.out(MSG.noNodes)
    io.out(formatTable(
      ['ID', 'NAME', 'ROLE', 'LEADER', 'PLATFORM', 'CORES', 'MEMORY', 'CPU%', 'BATTERY', 'STATE', 'ACTIVE', 'RELIABILITY', 'LAST SEEN'],
      nodes.map(n => [
        n.id, n.name, n.role, n.isLeader ? '*' : (n.isVoter ? 'voter' : ''), `${n.platform}/${n.arch}`,
        String(n.cpuCores), `${n.memoryGb.toFixed(1)}G`, n.cpuUsage.toFixed(0),
        n.battery === undefined ? '-' : `${n.battery.percent.toFixed(0)}%${n.battery.charging ? '+' : ''}`,
        n.device === undefined || n.device.state === 'active' ? (n.device?.reason ?? 'active') : `${n.device.state}: ${n.device.reason ?? ''}`,
        `${n.activeTasks}/${n.maxConcurrentTasks}`, reliability(n.reliability), n.alive ? `${ago(n.lastSeenMs)} ago` : `down ${ago(n.lastSeenMs)}`
      ])
    ))
  })
  return cmd
}
