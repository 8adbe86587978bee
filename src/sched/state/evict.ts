// 'evict' and what may be evicted. A terminal task stays for the retention (settings.retentionMs or
// its own resultTtlSeconds, from endedAt); a batch, a workflow and a failover chain go whole, once
// every task in them has ended and expired, so a query never meets half a batch. The leader names
// candidates (evictionCandidates, no scan: retention.ts's EndedIndex); apply re-checks each at the
// command's time, so every node evicts the same records. Evicted ids are remembered as tombstones
// (bounded FIFO) so a lookup can say "evicted" rather than "not found".
//
// The cap (settings.maxRetainedTasks, default DEFAULT_MAX_RETAINED_TASKS): while more terminal
// records are kept than that, the leader also names the oldest ended units (by endedAt, then id:
// EndedIndex.oldest), expired or not, about as many tasks as the excess. Apply evicts a named unit
// that has not expired only if every task in it has ended and the terminal records are still over
// the cap at that point of the command, so every node evicts the same ones and never a task that
// is pending, queued or running.

import type { Command, TaskRecord } from '../commands.js'
import { TERMINAL_STATUSES } from '../types.js'
import { MAX_EVICTED_TOMBSTONES } from '../../protocol/limits.js'
import { isValidTaskId, taskIdTimeMs } from '../ids.js'
import { expiresAt } from '../retention.js'
import { chainOf } from './chains.js'
import { maxRetainedTasksOf, retentionMsOf } from './settings.js'
import type { State } from './state.js'

/** What the leader may evict now (see the 'evict' command). */
export interface EvictionCandidates { taskIds: string[], batchIds: string[], workflowIds: string[] }

type UnitKind = 'task' | 'batch' | 'workflow'

export function applyEvict (s: State, cmd: Extract<Command, { type: 'evict' }>): void {
  if (typeof cmd.at !== 'number') return
  const lists: Array<[UnitKind, unknown]> = [['task', cmd.taskIds], ['batch', cmd.batchIds], ['workflow', cmd.workflowIds]]
  const cap = maxRetainedTasksOf(s)
  for (const [kind, list] of lists) {
    if (!Array.isArray(list)) continue
    for (const id of list) {
      if (typeof id !== 'string') continue
      const unit = endedUnit(s, kind, id)
      if (unit === undefined) continue
      if (!allExpired(s, unit, cmd.at) && s.ended.size <= cap) continue
      for (const r of unit) evictTask(s, r)
      if (kind === 'batch') { s.batches.delete(id); tombstone(s, `batch:${id}`) }
      if (kind === 'workflow') { s.workflows.delete(id); s.wfIndex.delete(id); tombstone(s, `workflow:${id}`) }
    }
  }
}

/** The tasks of a batch/workflow/standalone chain, if every one has ended. */
function endedUnit (s: State, kind: UnitKind, id: string): TaskRecord[] | undefined {
  const unit: TaskRecord[] = []
  if (kind === 'task') {
    const rec = s.tasks.get(id)
    if (rec === undefined || rec.batchId !== undefined || rec.workflowId !== undefined) return undefined
    chainOf(s, rec, unit)
  } else if (kind === 'batch') {
    const b = s.batches.get(id)
    if (b === undefined) return undefined
    for (const tid of b.taskIds) { const r = s.tasks.get(tid); if (r !== undefined) chainOf(s, r, unit) }
  } else {
    const w = s.workflows.get(id)
    if (w === undefined || w.status === 'running') return undefined
    for (const step of w.steps) { const r = s.tasks.get(step.taskId); if (r !== undefined) chainOf(s, r, unit) }
  }
  for (const r of unit) if (!TERMINAL_STATUSES.has(r.status)) return undefined
  return unit
}

/** Every task of the unit past its retention at `at`. */
function allExpired (s: State, unit: TaskRecord[], at: number): boolean {
  const retention = retentionMsOf(s)
  for (const r of unit) if (expiresAt(r, retention) > at) return false
  return true
}

/** The tasks of a batch/workflow/standalone chain, if every one has ended and expired at `at`. */
function expiredUnit (s: State, kind: UnitKind, id: string, at: number): TaskRecord[] | undefined {
  const unit = endedUnit(s, kind, id)
  return unit !== undefined && allExpired(s, unit, at) ? unit : undefined
}

function evictTask (s: State, rec: TaskRecord): void {
  if (!s.tasks.delete(rec.id)) return
  s.byStatus.get(rec.status)!.delete(rec.id)
  s.counts[rec.status]--
  const k = rec.task.idempotencyKey
  if (k !== undefined && s.idempotency.get(k) === rec.id) s.idempotency.delete(k)
  s.stepOf.delete(rec.id)
  s.localReasons.delete(rec.id)
  s.ended.remove(rec.id)
  s.evictedTotal++
  tombstone(s, rec.id)
}

function tombstone (s: State, id: string): void {
  s.tombstones.add(id)
  if (s.tombstones.size <= MAX_EVICTED_TOMBSTONES) return
  const oldest = s.tombstones.shift() as string
  const tid = oldest.slice(0, 26)
  if (isValidTaskId(tid)) s.tombstoneFloorMs = Math.max(s.tombstoneFloorMs, taskIdTimeMs(tid))
}

/** Was this id (a task id, or 'batch:<id>' / 'workflow:<id>') evicted? See ClusterState.wasEvicted. */
export function wasEvicted (s: State, id: string): boolean {
  if (s.tombstones.has(id)) return true
  const tid = id.slice(0, 26)
  return isValidTaskId(tid) && s.tombstoneFloorMs > 0 && taskIdTimeMs(tid) <= s.tombstoneFloorMs
}

/** The unit a record leaves the state with: its batch, its workflow, or its own failover chain. */
function unitOf (s: State, rec: TaskRecord, out: EvictionCandidates): [UnitKind, string, string[]] {
  if (rec.batchId !== undefined && s.batches.has(rec.batchId)) return ['batch', rec.batchId, out.batchIds]
  if (rec.workflowId !== undefined && s.workflows.has(rec.workflowId)) return ['workflow', rec.workflowId, out.workflowIds]
  return ['task', rec.id, out.taskIds]
}

/** What the leader may evict at `now`: see ClusterState.evictionCandidates. */
export function evictionCandidates (s: State, now: number, max: number, maxVisit: number): EvictionCandidates {
  const out: EvictionCandidates = { taskIds: [], batchIds: [], workflowIds: [] }
  /** units named (a chain by each of its tasks) and units looked at in this pass */
  const named = new Set<string>()
  let tried = new Set<string>()
  let n = 0
  /** names rec's unit if `pick` gives its tasks; false once `max` tasks are named */
  const consider = (id: string, pick: (kind: UnitKind, key: string) => TaskRecord[] | undefined): boolean => {
    if (n >= max) return false
    const rec = s.tasks.get(id)
    if (rec === undefined) return true
    const [kind, key, list] = unitOf(s, rec, out)
    const unitKey = `${kind}:${key}`
    if (named.has(unitKey) || tried.has(unitKey)) return true
    tried.add(unitKey)
    const unit = pick(kind, key)
    if (unit === undefined) return true
    named.add(unitKey)
    if (kind === 'task') for (const r of unit) named.add(`task:${r.id}`)
    list.push(kind === 'task' ? unit[0].id : key)
    n += unit.length // bounds the apply's work, not just the ids: a batch id stands for up to 10,000 tasks
    return true
  }
  for (const id of s.ended.expired(now, retentionMsOf(s), maxVisit)) {
    if (!consider(id, (kind, key) => expiredUnit(s, kind, key, now))) break
  }
  // over the cap: the oldest ended units too, about as many tasks as the excess
  const excess = s.ended.size - maxRetainedTasksOf(s)
  if (excess > n) {
    tried = new Set()
    const target = Math.min(max, excess)
    s.ended.oldest(maxVisit, id => n < target && consider(id, (kind, key) => endedUnit(s, kind, key)))
  }
  return out
}
