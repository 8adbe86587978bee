// `retire-cluster cancel ID`

import { Command } from 'commander'
import { addClientOptions, clientFrom, type ClientFlags } from '../context.js'
import { MSG } from '../messages.js'
import { json, type CliIo } from '../io.js'

export function cancelCommand (io: CliIo): Command {
  const cmd = new Command('cancel').description(MSG.cancelDesc).argument('<id>', 'task id')
  addClientOptions(cmd)
  cmd.action(async (id: string, flags: ClientFlags) => {
    const record = await (await clientFrom(flags)).cancelTask(id)
    io.out(flags.json === true ? json(record) : MSG.cancelled(record.id, record.status))
  })
  return cmd
}
