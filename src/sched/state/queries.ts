// Reads of the state for the scheduler, the API and the CLI. Nothing here changes replicated data;
// setPendingReason changes only the leader's local, unreplicated explanations.

import type { TaskRecord } from '../commands.js'
import type { TaskStatus } from '../types.js'
import { latestOf } from './chains.js'
import type { State, WorkflowRunStatus } from './state.js'

export interface BatchProgressData { id: string, name: string, total: number, completed: number, failed: number, running: number, pending: number, cancelled: number }
export interface WorkflowStatusData { id: string, name: string, status: WorkflowRunStatus, steps: Array<{ name: string, taskId: string, status: TaskStatus, dependsOn: string[] }> }
export interface QueueStatisticsData {
  size: number, byPriority: Record<string, number>, avgWaitTimeSeconds: number, running: number, pending: number
  /** task records kept (live and finished, not yet evicted), and evicted since the cluster began */
  stored: number, evicted: number
}
export interface TaskFilter { status?: TaskStatus, deviceId?: string, limit?: number, order?: 'oldest' | 'newest' }

/** The record (live object: do not mutate), with the leader's local pendingReason merged in. */
export function getTask (s: State, id: string): TaskRecord | undefined {
  const rec = s.tasks.get(id)
  if (rec === undefined) return undefined
  const local = s.localReasons.get(id)
  return local !== undefined && rec.status === 'pending' && rec.pendingReason === undefined ? { ...rec, pendingReason: local } : rec
}

export function latest (s: State, id: string): TaskRecord | undefined {
  const rec = latestOf(s, id)
  return rec === undefined ? undefined : getTask(s, rec.id)
}

export function listTasks (s: State, filter: TaskFilter): TaskRecord[] {
  const limit = filter.limit ?? Infinity
  const out: TaskRecord[] = []
  let ids: Iterable<string>
  if (filter.deviceId !== undefined && (filter.status === 'queued' || filter.status === 'running')) {
    ids = s.onDevice.get(filter.deviceId) ?? []
  } else {
    ids = filter.status !== undefined ? (s.byStatus.get(filter.status) ?? []) : s.tasks.keys()
  }
  if (filter.order === 'newest') ids = [...ids].reverse()
  for (const id of ids) {
    if (out.length >= limit) break
    const rec = getTask(s, id) as TaskRecord
    if (filter.status !== undefined && rec.status !== filter.status) continue
    if (filter.deviceId !== undefined && rec.deviceId !== filter.deviceId) continue
    out.push(rec)
  }
  return out
}

export function * readyIterator (s: State, now: number): Generator<TaskRecord> {
  // peek drops removed entries at the bucket heads, so ordered() does not skip them every call
  s.queue.peek(now)
  for (const t of s.queue.ordered(now)) {
    const rec = s.tasks.get(t.id)
    if (rec === undefined) continue
    if (rec.notBefore !== undefined && rec.notBefore > now) continue
    yield rec
  }
}

export function queueStatistics (s: State, now: number): QueueStatisticsData {
  const q = s.queue.getStatistics(now) as { size: number, byPriority: Record<string, number>, avgWaitTimeSeconds: number }
  return {
    size: q.size, byPriority: q.byPriority, avgWaitTimeSeconds: q.avgWaitTimeSeconds, running: s.counts.running + s.counts.queued,
    pending: s.counts.pending, stored: s.tasks.size, evicted: s.evictedTotal
  }
}

export function batchProgress (s: State, id: string): BatchProgressData | undefined {
  const b = s.batches.get(id)
  if (b === undefined) return undefined
  const p: BatchProgressData = { id, name: b.name, total: b.taskIds.length, completed: 0, failed: 0, running: 0, pending: 0, cancelled: 0 }
  for (const tid of b.taskIds) {
    const st = (latest(s, tid) as TaskRecord).status
    if (st === 'completed') p.completed++
    else if (st === 'failed' || st === 'timeout') p.failed++
    else if (st === 'cancelled') p.cancelled++
    else if (st === 'pending') p.pending++
    else p.running++
  }
  return p
}

export function workflowStatus (s: State, id: string): WorkflowStatusData | undefined {
  const wf = s.workflows.get(id)
  if (wf === undefined) return undefined
  return {
    id, name: wf.name, status: wf.status,
    steps: wf.steps.map(st => ({ name: st.name, taskId: st.taskId, status: (s.tasks.get(st.taskId) as TaskRecord).status, dependsOn: st.dependsOn.slice() }))
  }
}
