// 'submit': single tasks, batches (whole, or sealed from chunks) and workflows/chains, atomically:
// every check passes before anything changes, so a refused submit leaves no trace but its reply.
// A repeated requestId gets the first reply again; tasks that already exist are duplicates.

import type { BatchInfo, ClusterEvent, Command } from '../commands.js'
import { canSubmit } from '../permissions.js'
import { stageChunk } from './batch-chunks.js'
import { enqueue, insertTask } from './records.js'
import { remember } from './requests.js'
import { maxQueueSizeOf, roleOf } from './settings.js'
import { checkSubmit, type CheckedSubmit } from './submit-checks.js'
import { errorReply, type BatchState, type Reply, type State } from './state.js'
import { insertWorkflow } from './workflows.js'

type SubmitCommand = Extract<Command, { type: 'submit' }>

export function applySubmit (s: State, cmd: SubmitCommand, events: ClusterEvent[]): Reply {
  if (typeof cmd.requestId === 'string' && cmd.requestId !== '') {
    const prev = s.requests.get(cmd.requestId)
    if (prev !== undefined) return prev.ok ? { ...prev, duplicate: true } : prev
  }
  if (cmd.chunk !== undefined) {
    const staged = stageChunk(s, cmd)
    if (!('seal' in staged)) return staged
    const { chunk: _chunk, ...whole } = cmd
    return applySubmit(s, { ...whole, tasks: staged.seal }, events)
  }
  const checked = checkSubmit(s, cmd)
  if (!('tasks' in checked)) return checked
  const refused = admit(s, cmd, checked)
  if (refused !== undefined) return refused
  // all checks passed: from here on nothing can refuse, so the submit is atomic
  const ids = insertSubmitted(s, cmd, checked, events)
  return remember(s, cmd.requestId, { ok: true, taskIds: ids, duplicate: false })
}

/** The reply when a checked submit may not go in (permission, conflict, queue full, all duplicates). */
function admit (s: State, cmd: SubmitCommand, checked: CheckedSubmit): Reply | undefined {
  const r = refusal(s, cmd, checked, s.queue.size)
  if (r === 'duplicate') return remember(s, cmd.requestId, { ok: true, taskIds: checked.existing as string[], duplicate: true })
  return r
}

/** Why a checked submit may not go in with `queued` tasks waiting, 'duplicate' when every task exists. Pure. */
function refusal (s: State, cmd: SubmitCommand, { tasks, existing }: CheckedSubmit, queued: number): Reply | 'duplicate' | undefined {
  const role = roleOf(s, cmd.principal)
  for (let i = 0; i < tasks.length; i++) {
    if (existing[i] !== undefined) continue
    const verdict = canSubmit(role, tasks[i])
    if (!verdict.ok) return errorReply('permission_denied', `principal '${cmd.principal}': ${verdict.reason}`, `tasks[${i}]`)
  }
  const newCount = existing.reduce((n, e) => e === undefined ? n + 1 : n, 0)
  if (newCount === 0) return 'duplicate'
  if (newCount < tasks.length && (cmd.batch !== undefined || cmd.workflow !== undefined)) {
    return errorReply('conflict', 'some tasks of this batch/workflow already exist; resubmit it whole with the same ids or with new ones', 'tasks')
  }
  const maxSize = maxQueueSizeOf(s)
  if (queued + newCount > maxSize) {
    return errorReply('queue_full', `task queue is full: ${queued} tasks wait, the limit is ${maxSize} (cluster setting maxQueueSize); ` +
      `this submit of ${newCount} was refused whole, nothing queued was dropped; retry later`)
  }
  return undefined
}

/**
 * Would these submits, applied in this order to `s` as it is now, insert every one of their tasks as
 * a new task: none refused, no duplicate (of the state or of each other), no workflow or chunk, and
 * no idempotency key (a keyed task must run only once its submission is in the log: a client that
 * retries with the key after an error must not find it ran twice). Pure: the leader runs tasks whose
 * submission has not committed yet only when this holds and nothing before them is unapplied
 * (LeaderLoop.placeSubmitted), so that it is exactly what applying them will do.
 */
export function submitsInsertAll (s: State, cmds: readonly SubmitCommand[]): boolean {
  const ids = new Set<string>()
  const requests = new Set<string>()
  const batches = new Set<string>()
  let queued = s.queue.size
  for (const cmd of cmds) {
    if (cmd.chunk !== undefined || cmd.workflow !== undefined) return false
    if (typeof cmd.requestId === 'string' && cmd.requestId !== '') {
      if (s.requests.has(cmd.requestId) || requests.has(cmd.requestId)) return false
      requests.add(cmd.requestId)
    }
    if (cmd.batch != null) {
      if (batches.has(cmd.batch.id)) return false
      batches.add(cmd.batch.id)
    }
    const checked = checkSubmit(s, cmd)
    if (!('tasks' in checked)) return false
    for (let i = 0; i < checked.tasks.length; i++) {
      const t = checked.tasks[i]!
      if (checked.existing[i] !== undefined || t.idempotencyKey !== undefined || ids.has(t.id)) return false
      ids.add(t.id)
    }
    if (refusal(s, cmd, checked, queued) !== undefined) return false
    queued += checked.tasks.length
  }
  return true
}

/** Inserts the new tasks, the batch and the workflow, and queues what is not blocked; returns every id. */
function insertSubmitted (s: State, cmd: SubmitCommand, { tasks, existing }: CheckedSubmit, events: ClusterEvent[]): string[] {
  const ids: string[] = []
  for (let i = 0; i < tasks.length; i++) {
    const ex = existing[i]
    if (ex !== undefined) { ids.push(ex); continue }
    const rec = insertTask(s, tasks[i], cmd.principal, cmd.at, cmd.batch?.id, cmd.workflow?.id)
    ids.push(rec.id)
    events.push({ kind: 'submit', taskId: rec.id, at: cmd.at })
  }
  if (cmd.batch !== undefined) insertBatch(s, cmd.batch, ids, cmd.at)
  if (cmd.workflow !== undefined) insertWorkflow(s, cmd.workflow, ids, cmd.at)
  for (const id of ids) {
    const rec = s.tasks.get(id)
    if (rec !== undefined && rec.status === 'pending' && !s.blocked.has(id) && !s.enqueuedAt.has(id)) enqueue(s, rec, cmd.at)
  }
  return ids
}

function insertBatch (s: State, b: BatchInfo, ids: string[], at: number): void {
  const st: BatchState = { id: b.id, name: b.name, taskIds: ids, createdAt: at }
  if (b.description !== undefined) st.description = b.description
  s.batches.set(b.id, st)
}
