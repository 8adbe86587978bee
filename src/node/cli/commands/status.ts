// `retire-cluster status ID`

import { Command } from 'commander'
import type { TaskRecord } from '../../../sched/commands.js'
import { addClientOptions, clientFrom, type ClientFlags } from '../context.js'
import { MSG } from '../messages.js'
import { json, type CliIo } from '../io.js'

export function statusCommand (io: CliIo): Command {
  const cmd = new Command('status').description(MSG.statusDesc).argument('<id>', 'task id')
  addClientOptions(cmd)
  cmd.action(async (id: string, flags: ClientFlags) => {
    const record = await (await clientFrom(flags)).getTask(id)
    io.out(flags.json === true ? json(record) : describeTask(record))
  })
  return cmd
}

/** A task record as `key: value` lines for people. */
export function describeTask (r: TaskRecord): string {
  const lines: Array<[string, unknown]> = [
    ['id', r.id], ['type', r.taskType], ['status', r.status], ['priority', r.priority],
    ['progress', `${r.progress}%`], ['device', r.deviceId], ['attempts', r.attempts.length],
    ['created', iso(r.createdAt)], ['started', iso(r.startedAt)], ['finished', iso(r.finishedAt)],
    ['took', r.startedAt !== undefined && r.finishedAt !== undefined ? `${r.finishedAt - r.startedAt} ms` : undefined],
    ['pending', r.pendingReason], ['batch', r.batchId], ['workflow', r.workflowId],
    ['replaced by', r.replacedBy], ['replaces', r.replaces],
    ['result', r.result === undefined ? undefined : JSON.stringify(r.result)],
    ['error', r.error === undefined ? undefined : `${r.error.type}: ${r.error.message}`]
  ]
  return lines.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${(k + ':').padEnd(13)}${String(v)}`).join('\n')
}

function iso (ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString()
}
