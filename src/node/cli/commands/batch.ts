// `retire-cluster batch FILE`: submit a batch, follow it with a progress bar, print a summary.

import { basename } from 'node:path'
import { Command } from 'commander'
import { SingleBar, Presets } from 'cli-progress'
import type { BatchProgress } from '../../api-types.js'
import type { ApiClient } from '../../api/client.js'
import { addClientOptions, clientFrom, type ClientFlags } from '../context.js'
import { readDataFile, isObject } from '../files.js'
import { CliError, EXIT, UsageError } from '../errors.js'
import { MSG } from '../messages.js'
import { json, type CliIo } from '../io.js'
import { intOpt } from '../parse.js'

interface Flags extends ClientFlags { wait: boolean, timeout: number, name?: string }

/** how often the batch's progress is polled */
const POLL_MS = 250

export function batchCommand (io: CliIo): Command {
  const cmd = new Command('batch')
    .description(MSG.batchDesc)
    .argument('<file>', 'JSON/YAML: { name, description, tasks: [...] } or a list of tasks')
    .option('--name <name>', 'batch name (default: from the file, or its file name)')
    .option('--no-wait', 'submit and print the ids, do not follow progress')
    .option('--timeout <seconds>', 'stop following after this long', intOpt('--timeout', 1), 600)
  addClientOptions(cmd)
  cmd.action(async (file: string, flags: Flags) => {
    const batch = await loadBatch(file, flags.name)
    const client = await clientFrom(flags)
    const { id, taskIds } = await client.submitBatch(batch)
    if (!flags.wait) {
      io.out(flags.json === true ? json({ id, taskIds }) : MSG.batchSubmitted(id, taskIds.length))
      return
    }
    if (flags.json !== true) io.err(MSG.batchSubmitted(id, taskIds.length))
    const started = Date.now()
    const progress = await follow(client, id, flags.timeout * 1000, io.interactive && flags.json !== true)
    const seconds = (Date.now() - started) / 1000
    const done = progress.completed + progress.failed + progress.cancelled
    if (flags.json === true) io.out(json({ ...progress, taskIds, seconds }))
    else io.out(done < progress.total ? MSG.batchUnfinished(id, done, progress.total) : MSG.batchSummary(id, progress.completed, progress.failed, progress.cancelled, progress.total, seconds))
    if (done < progress.total) throw new CliError(MSG.batchUnfinished(id, done, progress.total), EXIT.ERROR)
    if (progress.completed < progress.total) throw new CliError(`${progress.total - progress.completed} of ${progress.total} tasks did not complete`, EXIT.TASK_FAILED)
  })
  return cmd
}

async function loadBatch (file: string, name?: string): Promise<{ name: string, description?: string, tasks: unknown[] }> {
  const data = await readDataFile(file)
  if (Array.isArray(data)) return { name: name ?? basename(file).replace(/\.[^.]+$/, ''), tasks: data }
  if (!isObject(data) || !Array.isArray(data.tasks)) throw new UsageError(`${file} must hold { name, description, tasks: [...] } or a list of tasks`)
  return { ...data, name: name ?? (typeof data.name === 'string' ? data.name : basename(file).replace(/\.[^.]+$/, '')), tasks: data.tasks }
}

async function follow (client: ApiClient, id: string, timeoutMs: number, showBar: boolean): Promise<BatchProgress> {
  const bar = showBar ? new SingleBar({ format: ' {bar} {percentage}% | {value}/{total} done | {failed} failed | {running} running | {duration_formatted}', hideCursor: true }, Presets.shades_classic) : undefined
  const end = Date.now() + timeoutMs
  let p = await client.getBatch(id)
  bar?.start(p.total, 0, { failed: 0, running: 0 })
  try {
    for (;;) {
      const done = p.completed + p.failed + p.cancelled
      bar?.update(done, { failed: p.failed, running: p.running })
      if (done >= p.total || Date.now() >= end) return p
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
      p = await client.getBatch(id)
    }
  } finally {
    bar?.stop()
  }
}
