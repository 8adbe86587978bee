// `retire-cluster nodes`: the devices table.

import { Command } from 'commander'
import { addClientOptions, clientFrom, type ClientFlags } from '../context.js'
import { MSG } from '../messages.js'
import { json, formatTable, ago, type CliIo } from '../io.js'

export function nodesCommand (io: CliIo): Command {
  const cmd = new Command('nodes').description(MSG.nodesDesc)
  addClientOptions(cmd)
  cmd.action(async (flags: ClientFlags) => {
    const nodes = await (await clientFrom(flags)).nodes()
    if (flags.json === true) return io.out(json(nodes))
    if (nodes.length === 0) return io.out(MSG.noNodes)
    io.out(formatTable(
      ['ID', 'NAME', 'ROLE', 'LEADER', 'PLATFORM', 'CORES', 'MEMORY', 'CPU%', 'BATTERY', 'STATE', 'ACTIVE', 'LAST SEEN'],
      nodes.map(n => [
        n.id, n.name, n.role, n.isLeader ? '*' : (n.isVoter ? 'voter' : ''), `${n.platform}/${n.arch}`,
        String(n.cpuCores), `${n.memoryGb.toFixed(1)}G`, n.cpuUsage.toFixed(0),
        n.battery === undefined ? '-' : `${n.battery.percent.toFixed(0)}%${n.battery.charging ? '+' : ''}`,
        n.device === undefined || n.device.state === 'active' ? (n.device?.reason ?? 'active') : `${n.device.state}: ${n.device.reason ?? ''}`,
        `${n.activeTasks}/${n.maxConcurrentTasks}`, n.alive ? `${ago(n.lastSeenMs)} ago` : `down ${ago(n.lastSeenMs)}`
      ])
    ))
  })
  return cmd
}
