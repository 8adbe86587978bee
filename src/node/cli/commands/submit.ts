// `retire-cluster submit TYPE [--payload JSON|@file] [requirements...] [--wait]`

import { Command, Option } from 'commander'
import type { TaskRecord } from '../../../sched/commands.js'
import type { ApiClient } from '../../api/client.js'
import { addClientOptions, clientFrom, type ClientFlags } from '../context.js'
import { buildTaskSpec, type SubmitFlags } from '../task-spec.js'
import { CliError, EXIT } from '../errors.js'
import { MSG } from '../messages.js'
import { json, type CliIo } from '../io.js'
import { intOpt, numOpt, choiceOpt, listOpt, PRIORITIES, PLATFORMS, ROLES, PERMISSIONS } from '../parse.js'
import { describeTask } from './status.js'

interface Flags extends SubmitFlags, ClientFlags { wait?: boolean, waitTimeout?: number, idempotencyKey?: string }

export function submitCommand (io: CliIo): Command {
  const cmd = new Command('submit')
    .description(MSG.submitDesc)
    .argument('[type]', 'task type: echo, sleep, system_info, python_eval, command, file_operation, or a custom one')
    .option('-p, --payload <json>', 'payload as JSON, or @file (JSON/YAML)')
    .option('-f, --file <file>', 'task file (JSON/YAML, seed snake_case names: task_type, payload, priority, requirements, ...)')
    .addOption(new Option('--priority <name>', 'urgent, high, normal, low, background (or 1-5)').argParser(choiceOpt('--priority', PRIORITIES)))
    .option('--min-cpu-cores <n>', 'requirement: CPU cores', intOpt('--min-cpu-cores', 1))
    .option('--min-memory-gb <gb>', 'requirement: memory', numOpt('--min-memory-gb'))
    .option('--min-storage-gb <gb>', 'requirement: free storage', numOpt('--min-storage-gb'))
    .addOption(new Option('--platform <p>', 'requirement: linux, android, windows, macos').argParser(choiceOpt('--platform', PLATFORMS)))
    .option('--arch <arch>', 'requirement: CPU architecture (x64, arm64, ...)')
    .addOption(new Option('--role <role>', 'requirement: compute, mobile, storage').argParser(choiceOpt('--role', ROLES)))
    .option('--max-cpu-usage <pct>', 'requirement: device CPU usage at most', numOpt('--max-cpu-usage'))
    .option('--max-memory-usage <pct>', 'requirement: device memory usage at most', numOpt('--max-memory-usage'))
    .option('--timeout <seconds>', 'timeout_seconds', numOpt('--timeout'))
    .option('--max-retries <n>', 'max_retries', intOpt('--max-retries'))
    .option('--requires-internet', 'requirement: device has internet')
    .option('--requires-gpu', 'requirement: device has a GPU')
    .option('--bandwidth-mbps <n>', 'requirement: bandwidth', numOpt('--bandwidth-mbps'))
    .option('--sensors <list>', 'requirement: sensors, comma separated', listOpt)
    .option('--exclusive', 'run alone on its device')
    .option('--exclude-devices <ids>', 'never run on these devices, comma separated', listOpt)
    .addOption(new Option('--permissions <list>', `required_permissions (${PERMISSIONS.join(', ')})`).argParser(listOpt))
    .option('--idempotency-key <key>', 'submitting twice with the same key makes one task')
    .option('-w, --wait', 'wait for the outcome, showing progress')
    .option('--wait-timeout <seconds>', 'give up waiting after this long', intOpt('--wait-timeout', 1), 600)
  addClientOptions(cmd)
  cmd.action(async (type: string | undefined, flags: Flags) => {
    const spec = await buildTaskSpec(type, flags)
    const client = await clientFrom(flags)
    const id = await client.submitTask(spec, { idempotencyKey: flags.idempotencyKey })
    if (flags.wait !== true) {
      io.out(flags.json === true ? json({ id }) : MSG.submitted(id))
      return
    }
    const record = await waitWithProgress(client, id, flags.waitTimeout! * 1000, io, flags.json !== true)
    io.out(flags.json === true ? json(record) : describeTask(record))
    if (record.status !== 'completed') {
      throw new CliError(MSG.errTaskFailed(record.id, record.status, record.error?.message ?? record.pendingReason ?? ''), EXIT.TASK_FAILED)
    }
  })
  return cmd
}

/** Long-polls for the outcome while an event stream feeds a one-line progress display on stderr. */
async function waitWithProgress (client: ApiClient, id: string, timeoutMs: number, io: CliIo, show: boolean): Promise<TaskRecord> {
  const ctrl = new AbortController()
  if (show && io.interactive) {
    io.err(MSG.waiting(id))
    client.streamEvents(e => {
      if (e.event === 'progress') process.stderr.write(`\r  ${String(e.data.progress).padStart(3)}% on ${String(e.data.deviceId).slice(-8)}   `)
      else if (e.event === 'start') process.stderr.write(`\r  started on ${String(e.data.deviceId).slice(-8)}   `)
    }, { taskId: id, signal: ctrl.signal }).catch(() => {})
  }
  try {
    return await client.waitTask(id, timeoutMs)
  } finally {
    ctrl.abort()
    if (show && io.interactive) process.stderr.write('\n')
  }
}
