// `retire-cluster workflow FILE --var k=v`: a TaskTemplate file (instantiated by the cluster with the
// vars) or a `{ name, steps }` file; follows the workflow to its end unless --no-wait.

import { Command } from 'commander'
import type { WorkflowStatus } from '../../api-types.js'
import type { ApiClient } from '../../api/client.js'
import { addClientOptions, clientFrom, type ClientFlags } from '../context.js'
import { readDataFile, isObject } from '../files.js'
import { CliError, EXIT, UsageError } from '../errors.js'
import { MSG } from '../messages.js'
import { json, formatTable, type CliIo } from '../io.js'
import { collect, intOpt } from '../parse.js'

interface Flags extends ClientFlags { var: string[], wait: boolean, timeout: number }

const POLL_MS = 300

export function workflowCommand (io: CliIo): Command {
  const cmd = new Command('workflow')
    .description(MSG.workflowDesc)
    .argument('<template>', 'JSON/YAML file: a TaskTemplate, or { name, steps: [{ name, task, dependsOn }] }')
    .option('--var <name=value>', 'template variable (value parsed as JSON when it can be: 3, true, "x")', collect, [])
    .option('--no-wait', 'submit and print the ids, do not follow')
    .option('--timeout <seconds>', 'stop following after this long', intOpt('--timeout', 1), 600)
  addClientOptions(cmd)
  cmd.action(async (file: string, flags: Flags) => {
    const body = await loadWorkflow(file, parseVars(flags.var))
    const client = await clientFrom(flags)
    const { id, taskIds } = await client.submitWorkflow(body)
    if (!flags.wait) {
      io.out(flags.json === true ? json({ id, taskIds }) : MSG.workflowSubmitted(id, taskIds.length))
      return
    }
    if (flags.json !== true) io.err(MSG.workflowSubmitted(id, taskIds.length))
    const status = await follow(client, id, flags.timeout * 1000)
    if (flags.json === true) io.out(json({ ...status, taskIds }))
    else {
      io.out(formatTable(['STEP', 'TASK', 'STATUS'], status.steps.map(s => [s.name, s.taskId, s.status])))
      io.out(MSG.workflowDone(id, status.status))
    }
    if (status.status === 'running') throw new CliError(`workflow ${id} still running after ${flags.timeout} s`, EXIT.ERROR)
    if (status.status !== 'completed') throw new CliError(MSG.workflowDone(id, status.status), EXIT.TASK_FAILED)
  })
  return cmd
}

export function parseVars (vars: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const v of vars) {
    const eq = v.indexOf('=')
    if (eq <= 0) throw new UsageError(MSG.errVar(v))
    const raw = v.slice(eq + 1)
    let value: unknown = raw
    try { value = JSON.parse(raw) } catch { /* a plain string */ }
    out[v.slice(0, eq)] = value
  }
  return out
}

async function loadWorkflow (file: string, vars: Record<string, unknown>): Promise<Record<string, unknown>> {
  const data = await readDataFile(file)
  if (!isObject(data)) throw new UsageError(`${file} must hold a TaskTemplate or { name, steps }`)
  if (Array.isArray(data.steps)) return Object.keys(vars).length === 0 ? data : { ...data, vars }
  if (isObject(data.template)) return { template: data.template, vars: { ...(isObject(data.vars) ? data.vars : {}), ...vars } }
  return { template: data, vars }
}

async function follow (client: ApiClient, id: string, timeoutMs: number): Promise<WorkflowStatus> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const s = await client.getWorkflow(id)
    if (s.status !== 'running' || Date.now() >= end) return s
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}
