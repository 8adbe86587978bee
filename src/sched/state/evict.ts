// 'evict' and what may be evicted. A terminal task stays for the retention (settings.retentionMs or
// its own resultTtlSeconds, from endedAt); a batch, a workflow and a failover chain go whole, once
// every task in them has ended and expired, so a query never meets half a batch. The leader names
// candidates (evictionCandidates, no scan: retention.ts's EndedIndex); apply re-checks each at the
// command's time, so every node evicts the same records. Evicted ids are remembered as tombstones
// (bounded FIFO) so a lookup can say "evicted" rather than "not found".

import type { Command, TaskRecord } from '../commands.js'
import { TERMINAL_STATUSES } from '../types.js'
import { MAX_EVICTED_TOMBSTONES } from '../../protocol/limits.js'
import { isValidTaskId, taskIdTimeMs } from '../ids.js'
import { expiresAt } from '../retention.js'
import { chainOf } from './chains.js'
import { retentionMsOf } from './settings.js'
import type { State } from './state.js'

/** What the leader may evict now (see the 'evict' command). */
export interface EvictionCandidates { taskIds: string[], batchIds: string[], workflowIds: string[] }

type UnitKind = 'task' | 'batch' | 'workflow'

export function applyEvict (s: State, cmd: Extract<Command, { type: 'evict' }>): void {
  if (typeof cmd.at !== 'number') return
  const lists: Array<[UnitKind, unknown]> = [['task', cmd.taskIds], ['batch', cmd.batchIds], ['workflow', cmd.workflowIds]]
  for (const [kind, list] of lists) {
    if (!Array.isArray(list)) continue
    for (const id of list) {
      if (typeof id !== 'string') continue
      const unit = expiredUnit(s, kind, id, cmd.at)
      if (unit === undefined) continue
      for (const r of unit) evictTask(s, r)
      if (kind === 'batch') { s.batches.delete(id); tombstone(s, `batch:${id}`) }
      if (kind === 'workflow') { s.workflows.delete(id); s.wfIndex.delete(id); tombstone(s, `workflow:${id}`) }
    }
  }
}

/** The tasks of a batch/workflow/standalone chain, if every one has ended and expired at `at`. */
function expiredUnit (s: State, kind: UnitKind, id: string, at: number): TaskRecord[] | undefined {
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
  const retention = retentionMsOf(s)
  for (const r of unit) if (!TERMINAL_STATUSES.has(r.status) || expiresAt(r, retention) > at) return undefined
  return unit
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

/** What the leader may evict at `now`: see ClusterState.evictionCandidates. */
export function evictionCandidates (s: State, now: number, max: number, maxVisit: number): EvictionCandidates {
  const out: EvictionCandidates = { taskIds: [], batchIds: [], workflowIds: [] }
  const seen = new Set<string>()
  let n = 0
  for (const id of s.ended.expired(now, retentionMsOf(s), maxVisit)) {
    if (n >= max) break
    const rec = s.tasks.get(id)
    if (rec === undefined) continue
    const [kind, key, list] = rec.batchId !== undefined && s.batches.has(rec.batchId)
      ? ['batch' as const, rec.batchId, out.batchIds]
      : rec.workflowId !== undefined && s.workflows.has(rec.workflowId)
        ? ['workflow' as const, rec.workflowId, out.workflowIds]
        : ['task' as const, rec.id, out.taskIds]
    const unitKey = `${kind}:${key}`
    if (seen.has(unitKey)) continue
    seen.add(unitKey)
    const unit = expiredUnit(s, kind, kind === 'task' ? rec.id : key, now)
    if (unit === undefined) continue
    if (kind === 'task') for (const r of unit) seen.add(`task:${r.id}`)
    list.push(kind === 'task' ? unit[0].id : key)
    n += unit.length // bounds the apply's work, not just the ids: a batch id stands for up to 10,000 tasks
  }
  return out
}
