// `retire-cluster metrics [--period 24h]`

import { Command } from 'commander'
import { addClientOptions, clientFrom, type ClientFlags } from '../context.js'
import { MSG } from '../messages.js'
import { json, formatTable, type CliIo } from '../io.js'
import { InvalidArgumentError } from 'commander'

interface Flags extends ClientFlags { period: string }

export function metricsCommand (io: CliIo): Command {
  const cmd = new Command('metrics')
    .description(MSG.metricsDesc)
    .option('--period <period>', 'window: 30m, 24h, 7d', (v: string) => {
      if (!/^\d{1,6}[smhd]$/.test(v)) throw new InvalidArgumentError(`--period must look like 30m, 24h or 7d, got "${v}"`)
      return v
    }, '24h')
  addClientOptions(cmd)
  cmd.action(async (flags: Flags) => {
    const m = await (await clientFrom(flags)).metrics(flags.period)
    if (flags.json === true) return io.out(json(m))
    io.out([
      `period:              ${m.period}`,
      `total tasks:         ${m.totalTasks}`,
      `completed / failed:  ${m.completed} / ${m.failed}`,
      `success rate:        ${m.successRate.toFixed(1)}%`,
      `avg execution time:  ${m.avgExecutionTime.toFixed(3)} s`,
      `device utilization:  ${m.deviceUtilization.toFixed(1)}%`,
      `throughput:          ${m.throughputPerMinute.toFixed(1)} tasks/min`
    ].join('\n'))
    const devices = Object.entries(m.byDevice)
    if (devices.length > 0) {
      io.out('')
      io.out(formatTable(['DEVICE', 'COMPLETED', 'FAILED', 'AVG RESPONSE'], devices.map(([id, d]) => [
        id, String(d.completed), String(d.failed), `${d.avgResponseTime.toFixed(0)} ms`
      ])))
    }
  })
  return cmd
}
