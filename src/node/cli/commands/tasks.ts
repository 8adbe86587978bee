// `retire-cluster tasks [--status S] [--device ID] [--limit N]`

import { Command, Option } from 'commander'
import { addClientOptions, clientFrom, type ClientFlags } from '../context.js'
import { MSG } from '../messages.js'
import { json, formatTable, ago, type CliIo } from '../io.js'
import { choiceOpt, intOpt } from '../parse.js'

const STATUSES = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timeout'] as const

interface Flags extends ClientFlags { status?: string, device?: string, limit: number }

export function tasksCommand (io: CliIo): Command {
  const cmd = new Command('tasks')
    .description(MSG.tasksDesc)
    .addOption(new Option('-s, --status <status>', STATUSES.join(', ')).argParser(choiceOpt('--status', STATUSES)))
    .option('-d, --device <id>', 'only tasks on this device')
    .option('-n, --limit <n>', 'at most this many', intOpt('--limit', 1), 50)
  addClientOptions(cmd)
  cmd.action(async (flags: Flags) => {
    const tasks = await (await clientFrom(flags)).listTasks({ status: flags.status, device: flags.device, limit: flags.limit })
    if (flags.json === true) return io.out(json(tasks))
    if (tasks.length === 0) return io.out(MSG.noTasks)
    const now = Date.now()
    io.out(formatTable(['ID', 'TYPE', 'STATUS', 'PRI', 'PROGRESS', 'DEVICE', 'AGE'], tasks.map(t => [
      t.id, t.taskType, t.status, String(t.priority), `${Math.round(t.progress)}%`,
      t.deviceId === undefined ? '-' : t.deviceId.slice(-10), ago(now - t.createdAt)
    ])))
  })
  return cmd
}
