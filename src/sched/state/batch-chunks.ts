// Chunked batches (see BatchChunk in commands.ts): chunks 0..count-2 are staged aside, invisible
// and never schedulable; the last chunk seals the batch, which is then submitted whole by submit.ts
// as one ordinary, atomic batch submit. Staging abandoned by its submitter expires by command time.

import type { Command } from '../commands.js'
import type { TaskData } from '../types.js'
import { checkTaskData } from './submit-checks.js'
import { remember } from './requests.js'
import { maxQueueSizeOf } from './settings.js'
import { MAX_TASKS_PER_SUBMIT, STAGED_BATCH_TTL_MS, errorReply, type Reply, type State } from './state.js'

type SubmitCommand = Extract<Command, { type: 'submit' }>

/**
 * One chunk of a chunked batch: stage it (the reply), or, for the last chunk, take every staged
 * task out of staging and return them with this chunk's as `seal`, for one ordinary batch submit.
 */
export function stageChunk (s: State, cmd: SubmitCommand): Reply | { seal: TaskData[] } {
  const bad = chunkProblem(cmd)
  if (bad !== undefined) return bad
  const c = cmd.chunk as { index: number, count: number }
  const b = cmd.batch as { id: string }
  dropStaleStaging(s, cmd.at)
  const tasks: TaskData[] = Array.isArray(cmd.tasks) ? cmd.tasks : []
  if (tasks.length === 0) return errorReply('invalid_payload', 'submit.tasks must be a non-empty array', 'tasks')
  if (s.batches.has(b.id)) return errorReply('conflict', `batch ${b.id} already exists`, 'batch.id')
  let st = s.staged.get(b.id)
  if (c.index === 0) {
    if (st !== undefined) unstage(s, b.id) // the submitter started over: the old staging goes
    st = undefined
  } else {
    if (st === undefined) return errorReply('conflict', `batch ${b.id}: chunk ${c.index} of ${c.count} arrived but no earlier chunk is staged (expired or never sent); resubmit the batch`, 'chunk.index')
    if (st.principal !== cmd.principal) return errorReply('permission_denied', `batch ${b.id} is being submitted by another principal`, 'principal')
    if (st.count !== c.count || st.next !== c.index) return errorReply('conflict', `batch ${b.id}: chunk ${c.index} of ${c.count} is out of order (expected ${st.next} of ${st.count})`, 'chunk.index')
  }
  const staged = st?.tasks.length ?? 0
  if (staged + tasks.length > MAX_TASKS_PER_SUBMIT) return errorReply('invalid_payload', `a batch holds at most ${MAX_TASKS_PER_SUBMIT} tasks`, 'tasks')
  if (c.index === c.count - 1) {
    // seal: the staging goes either way (the whole submit may still be refused)
    const all = st === undefined ? tasks : st.tasks.concat(tasks)
    unstage(s, b.id)
    return { seal: all }
  }
  return stage(s, cmd, tasks)
}

/** What is wrong with a chunk's own fields (before anything is looked up). */
function chunkProblem (cmd: SubmitCommand): Reply | undefined {
  const c = cmd.chunk as { index: number, count: number }
  if (c === null || typeof c !== 'object' || !Number.isInteger(c.count) || c.count < 1 || c.count > MAX_TASKS_PER_SUBMIT) {
    return errorReply('invalid_payload', `submit.chunk.count must be an integer 1..${MAX_TASKS_PER_SUBMIT}`, 'chunk.count')
  }
  if (!Number.isInteger(c.index) || c.index < 0 || c.index >= c.count) return errorReply('invalid_payload', `submit.chunk.index must be an integer 0..${c.count - 1}`, 'chunk.index')
  if (cmd.workflow !== undefined) return errorReply('invalid_payload', 'a workflow cannot be submitted in chunks', 'chunk')
  const b = cmd.batch
  if (b == null || typeof b !== 'object' || typeof b.id !== 'string' || b.id === '') return errorReply('invalid_payload', 'a chunked submit needs batch.id', 'batch.id')
  if (typeof cmd.principal !== 'string' || cmd.principal === '') return errorReply('invalid_payload', 'submit.principal must be a non-empty string', 'principal')
  if (typeof cmd.at !== 'number' || !Number.isFinite(cmd.at)) return errorReply('invalid_payload', 'submit.at must be a finite number', 'at')
  return undefined
}

/** Stages a chunk that is not the last one. */
function stage (s: State, cmd: SubmitCommand, tasks: TaskData[]): Reply {
  const c = cmd.chunk as { index: number, count: number }
  const b = cmd.batch as NonNullable<SubmitCommand['batch']>
  for (let i = 0; i < tasks.length; i++) {
    const err = checkTaskData(tasks[i], `tasks[${i}]`)
    if (err !== undefined) return err
  }
  if (s.stagedTasks + tasks.length > maxQueueSizeOf(s)) return errorReply('queue_full', `too many staged batch tasks (${s.stagedTasks}); retry later`)
  let st = s.staged.get(b.id)
  if (st === undefined) {
    st = { batch: { ...b }, principal: cmd.principal, count: c.count, next: 0, tasks: [], updatedAt: cmd.at }
    s.staged.set(b.id, st)
  }
  for (const t of tasks) st.tasks.push(t)
  s.stagedTasks += tasks.length
  st.next = c.index + 1
  st.updatedAt = cmd.at
  return remember(s, cmd.requestId, { ok: true, taskIds: tasks.map(t => t.id), duplicate: false })
}

function unstage (s: State, batchId: string): void {
  const st = s.staged.get(batchId)
  if (st === undefined) return
  s.stagedTasks -= st.tasks.length
  s.staged.delete(batchId)
}

/** Staging abandoned by its submitter goes after STAGED_BATCH_TTL_MS (command time: deterministic). */
function dropStaleStaging (s: State, at: number): void {
  if (s.staged.size === 0) return
  for (const [id, st] of s.staged) if (at - st.updatedAt > STAGED_BATCH_TTL_MS) unstage(s, id)
}

/** Chunked batches staged and not yet sealed: batch id → tasks staged so far. */
export function stagedBatches (s: State): Map<string, number> {
  const m = new Map<string, number>()
  for (const [id, st] of s.staged) m.set(id, st.tasks.length)
  return m
}
