// The one place where what the API, the CLI and library callers read about a task is put together,
// the same on every node:
//
//   the task's record from this node's applied (replicated) state
//   + its live fields, which only the leader holds (soft state, never in the log):
//       progress and resourceUsage of a running attempt (workers report them to the leader),
//       pendingReason of a pending task (the leader's scheduler writes why it could not place it).
//
// The leader merges its own live fields; a follower asks the leader for those of the records it is
// about to return, in one 'liveTasks' query (a list page of more than MAX_LIVE_TASKS_PER_QUERY
// pending or running tasks asks in slices), and merges them the same way. Only tasks that are
// pending or running are asked about, and a field is merged only where it belongs to the record
// as this node has it (same status, same attempt), so a follower a moment behind never shows one
// attempt's progress on another. No leader, or no answer within LIVE_QUERY_TIMEOUT_MS: the records
// as this node has them.
import type { TaskRecord } from '../../sched/commands.js'
import type { LiveFields } from '../../protocol/messages.js'
import { MAX_LIVE_TASKS_PER_QUERY } from '../../protocol/limits.js'
import type { ClusterState } from '../../sched/state-machine.js'
import type { LeaderLoop } from '../leader/leader.js'

export type { LiveFields } from '../../protocol/messages.js'

/** a read waits this long for the leader's live fields before answering without them */
const LIVE_QUERY_TIMEOUT_MS = 1000

export interface LiveFieldsInit {
  state: () => ClusterState
  leader: Pick<LeaderLoop, 'liveOf'>
  isLeader: () => boolean
  /** send a client request to the leader (rejects when there is none) */
  leaderRequest: (type: string, body: Record<string, unknown>, timeoutMs: number) => Promise<any>
}

/** On the leader: the live fields it holds for these tasks (only the tasks that have any). */
export function liveFieldsOf (state: ClusterState, leader: Pick<LeaderLoop, 'liveOf'>, taskIds: readonly string[]): LiveFields[] {
  const out: LiveFields[] = []
  for (const id of taskIds) {
    const rec = state.getTask(id) // the leader's own pendingReason is merged in here
    if (rec === undefined) continue
    const attempt = rec.attempts.length
    if (rec.status === 'pending' && rec.pendingReason !== undefined) out.push({ taskId: id, attempt, pendingReason: rec.pendingReason })
    if (rec.status !== 'running') continue
    const live = leader.liveOf(rec)
    if (live === rec) continue
    out.push({ taskId: id, attempt, progress: live.progress, ...(live.resourceUsage !== undefined ? { resourceUsage: live.resourceUsage } : {}) })
  }
  return out
}

/** `rec` with the live fields that belong to it as it stands here */
export function withLiveFields (rec: TaskRecord, live: LiveFields | undefined): TaskRecord {
  if (live === undefined || live.attempt !== rec.attempts.length) return rec
  if (rec.status === 'running' && live.progress !== undefined) {
    return { ...rec, progress: live.progress, ...(live.resourceUsage !== undefined ? { resourceUsage: live.resourceUsage } : {}) }
  }
  if (rec.status === 'pending' && live.pendingReason !== undefined && rec.pendingReason === undefined) return { ...rec, pendingReason: live.pendingReason }
  return rec
}

/** Records as the API answers them: this node's replicated records with the leader's live fields. */
export class LiveTaskReader {
  constructor (private readonly d: LiveFieldsInit) {}

  async read (records: TaskRecord[]): Promise<TaskRecord[]> {
    const ids = records.filter(r => r.status === 'pending' || r.status === 'running').map(r => r.id)
    if (ids.length === 0) return records
    const byId = new Map<string, LiveFields>()
    for (const l of await this.fetch(ids)) byId.set(l.taskId, l)
    return records.map(r => withLiveFields(r, byId.get(r.id)))
  }

  async readOne (rec: TaskRecord): Promise<TaskRecord> {
    return (await this.read([rec]))[0]!
  }

  private async fetch (ids: string[]): Promise<LiveFields[]> {
    if (this.d.isLeader()) return liveFieldsOf(this.d.state(), this.d.leader, ids)
    const out: LiveFields[] = []
    try {
      for (let i = 0; i < ids.length; i += MAX_LIVE_TASKS_PER_QUERY) {
        const res = await this.d.leaderRequest('liveTasks', { taskIds: ids.slice(i, i + MAX_LIVE_TASKS_PER_QUERY) }, LIVE_QUERY_TIMEOUT_MS)
        if (res.ok !== true) break
        out.push(...(res.tasks as LiveFields[]))
      }
    } catch { /* no leader, or it did not answer: the records as this node has them */ }
    return out
  }
}
