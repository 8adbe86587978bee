// Durable task history for metrics: one row per finished attempt, in sqlite beside the Raft log,
// so getTaskMetrics survives restarts. Every node records what it applies (the log is the same
// everywhere), so any node can answer. Pruned on its own schedule (not the replicated state's):
// rows older than retentionMs go once a minute, so the file stays the size of that window (sqlite
// reuses the freed pages).
import Database from 'better-sqlite3'
import type { TaskMetrics } from '../api-types.js'
import type { ClusterEvent, TaskRecord } from '../../sched/commands.js'
import { NodeError } from '../errors.js'
import { TERMINAL_STATUSES } from '../../sched/types.js'

export interface HistoryRow {
  taskId: string
  attempt: number
  deviceId: string
  taskType: string
  status: string
  submittedAt: number
  startedAt: number
  finishedAt: number
}

/** how often old rows are deleted */
const PRUNE_INTERVAL_MS = 60_000

export interface TaskHistoryOptions {
  /** rows older than this are deleted. @default 25 h (the 24 h metrics window, and an hour) */
  retentionMs?: number
  /** @default Date.now */
  now?: () => number
}

const PERIOD_RE = /^(\d+)(s|m|h|d)$/
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

export function parsePeriodMs (period: string): number {
  const m = PERIOD_RE.exec(period)
  if (m === null) throw new NodeError('invalid_payload', `period: expected a number and a unit (s, m, h, d) such as '24h', got '${period}'`, 'period')
  return Number(m[1]) * UNIT_MS[m[2]!]!
}

/** rows kept in memory while history.db cannot be written (about 100 bytes each) */
const MAX_PENDING_ROWS = 100_000
const RETRY_FLUSH_MS = 2000
/** rows wait at most this long for their transaction, or until FLUSH_ROWS are waiting */
const FLUSH_EVERY_MS = 200
const FLUSH_ROWS = 2000
/** finished tasks written back a turn after a snapshot restore (see backfill) */
const BACKFILL_SLICE_ROWS = 2000

/** A finished attempt's row: `at` when the record has no finishedAt (the event's, or the record's endedAt). */
function rowOf (rec: TaskRecord, attempt: number, deviceId: string | undefined, at: number): HistoryRow {
  const cur = rec.attempts[rec.attempts.length - 1]
  return {
    taskId: rec.id,
    attempt,
    deviceId: deviceId ?? cur?.deviceId ?? '',
    taskType: rec.taskType,
    status: rec.status,
    submittedAt: rec.submittedAt,
    startedAt: cur?.startedAt ?? cur?.assignedAt ?? rec.submittedAt,
    finishedAt: rec.finishedAt ?? at
  }
}

export class TaskHistory {
  private readonly db: Database.Database
  private readonly insert: Database.Statement
  private pending: HistoryRow[] = []
  private flushScheduled = false
  /** the last flush failed (a full disk): wait for the retry timer instead of trying on every row */
  private failing = false
  private readonly retentionMs: number
  private readonly now: () => number
  private lastPruneAt = 0
  private readonly prune: Database.Statement

  constructor (path: string, private readonly maxConcurrentByDevice: () => Map<string, number>, opts: TaskHistoryOptions = {}) {
    this.retentionMs = opts.retentionMs ?? 25 * 3_600_000
    this.now = opts.now ?? Date.now
    this.db = new Database(path)
    this.db.pragma('journal_mode = WAL')
    // history is derived from the Raft log: losing the last few rows in a crash is harmless
    this.db.pragma('synchronous = NORMAL')
    this.db.exec(`CREATE TABLE IF NOT EXISTS history (
      task_id TEXT NOT NULL, attempt INTEGER NOT NULL, device_id TEXT NOT NULL, task_type TEXT NOT NULL,
      status TEXT NOT NULL, submitted_at INTEGER NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL,
      PRIMARY KEY (task_id, attempt))`)
    this.db.exec('CREATE INDEX IF NOT EXISTS history_finished ON history (finished_at)')
    this.insert = this.db.prepare('INSERT OR IGNORE INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    this.prune = this.db.prepare('DELETE FROM history WHERE finished_at < ?')
  }

  /** Deletes rows older than the retention (at most once a minute, unless forced); returns how many. */
  pruneOld (force = false): number {
    const now = this.now()
    if (!force && now - this.lastPruneAt < PRUNE_INTERVAL_MS) return 0
    this.lastPruneAt = now
    return this.prune.run(now - this.retentionMs).changes
  }

  /** an applied event: a completion or a final error is one row (retried errors are not: the retry's outcome will be) */
  onApplied (e: ClusterEvent, getTask: (id: string) => TaskRecord | undefined): void {
    if (e.kind !== 'complete' && !(e.kind === 'error' && e.final)) return
    const rec = getTask(e.taskId)
    if (rec === undefined) return
    this.record(rowOf(rec, e.attempt, e.deviceId, e.at))
  }

  /**
   * After the state was restored from a snapshot (at start, or one from the leader): the rows of
   * the finished tasks it holds, as onApplied would have written them. A node caught up by a
   * snapshot never applies the events before it, and one killed before its last rows were written
   * restarts from its snapshot past them; its metrics counted fewer tasks than the others' (found by
   * the fault soak once its seeds took snapshots). Rows already there stay (INSERT OR IGNORE).
   * `sliceRows` tasks a transaction, one transaction a turn (`nextTurn`): 100,000 rows in one took
   * 0.15 s (all there) to 0.4 s (none) here, after a restore that itself takes turns. Resolves with
   * the rows added; stops early (with what it added) if the history is closed meanwhile.
   */
  async backfill (tasks: readonly TaskRecord[], sliceRows = BACKFILL_SLICE_ROWS,
    nextTurn: (fn: () => void) => void = setImmediate): Promise<number> {
    const since = this.now() - this.retentionMs
    let added = 0
    const slice = this.db.transaction((from: number) => {
      for (let i = from; i < Math.min(tasks.length, from + sliceRows); i++) {
        const rec = tasks[i]!
        // a terminal record that was not replaced is one whose last event was final (a completion,
        // a final error, a cancel); a replaced one (failover, hand-off) was not recorded
        if (!TERMINAL_STATUSES.has(rec.status) || rec.replacedBy !== undefined) continue
        const r = rowOf(rec, rec.attempts[rec.attempts.length - 1]?.attempt ?? rec.attempts.length, undefined, rec.endedAt ?? 0)
        if (r.finishedAt < since) continue
        added += this.insert.run(r.taskId, r.attempt, r.deviceId, r.taskType, r.status, r.submittedAt, r.startedAt, r.finishedAt).changes
      }
    })
    for (let from = 0; from < tasks.length; from += sliceRows) {
      if (from > 0) await new Promise<void>(resolve => { nextTurn(resolve) })
      if (!this.db.open) break
      try { slice(from) } catch { break } // a full disk: metrics count what history holds, as for live rows
    }
    return added
  }

  /**
   * Recorded in batches: one transaction per FLUSH_EVERY_MS (sooner past FLUSH_ROWS rows). A
   * transaction per event-loop turn wrote the same table and index pages to the WAL ~100 times a
   * second under load, on every node; readers (metrics()) flush first, so they never miss a row.
   */
  record (row: HistoryRow): void {
    this.pending.push(row)
    if (this.pending.length >= FLUSH_ROWS && !this.failing) { this.flush(); return }
    if (this.flushScheduled) return
    this.flushScheduled = true
    setTimeout(() => { this.flushScheduled = false; this.flush() }, FLUSH_EVERY_MS).unref?.()
  }

  flush (): void {
    if (this.pending.length === 0) return
    const rows = this.pending
    this.pending = []
    try {
      this.db.transaction(() => {
        for (const r of rows) this.insert.run(r.taskId, r.attempt, r.deviceId, r.taskType, r.status, r.submittedAt, r.startedAt, r.finishedAt)
      })()
      this.pruneOld()
      this.failing = false
    } catch {
      this.failing = true
      // A full disk must not take the node down: keep the rows (bounded; history is derived data
      // and metrics only count what it holds) and try again shortly.
      this.pending = rows.concat(this.pending).slice(-MAX_PENDING_ROWS)
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setTimeout(() => { this.flushScheduled = false; this.flush() }, RETRY_FLUSH_MS).unref?.()
      }
    }
  }

  metrics (period: string, now: number): TaskMetrics {
    this.flush()
    const periodMs = parsePeriodMs(period)
    const since = now - periodMs
    const rows = this.db.prepare(`SELECT device_id AS d, status AS s, COUNT(*) AS n,
        SUM(finished_at - started_at) AS busy, AVG(finished_at - submitted_at) AS resp
      FROM history WHERE finished_at >= ? GROUP BY device_id, status`).all(since) as Array<{ d: string, s: string, n: number, busy: number, resp: number }>
    let completed = 0; let failed = 0; let busyMs = 0; let execCount = 0
    const byDevice: TaskMetrics['byDevice'] = {}
    const respSum = new Map<string, { sum: number, n: number }>()
    for (const r of rows) {
      const dev = byDevice[r.d] ?? (byDevice[r.d] = { completed: 0, failed: 0, avgResponseTime: 0 })
      if (r.s === 'completed') { completed += r.n; dev.completed += r.n } else if (r.s !== 'cancelled') { failed += r.n; dev.failed += r.n }
      busyMs += r.busy; execCount += r.n
      const acc = respSum.get(r.d) ?? { sum: 0, n: 0 }
      acc.sum += r.resp * r.n; acc.n += r.n
      respSum.set(r.d, acc)
    }
    for (const [d, acc] of respSum) byDevice[d]!.avgResponseTime = round(acc.sum / acc.n)
    const total = completed + failed
    // utilization: busy slot-time over available slot-time in the window, across devices seen
    const slots = this.maxConcurrentByDevice()
    let capacityMs = 0
    for (const d of Object.keys(byDevice)) capacityMs += (slots.get(d) ?? 1) * periodMs
    return {
      period,
      totalTasks: total,
      completed,
      failed,
      successRate: total === 0 ? 0 : round(100 * completed / total),
      avgExecutionTime: execCount === 0 ? 0 : round(busyMs / execCount / 1000),
      deviceUtilization: capacityMs === 0 ? 0 : round(Math.min(100, 100 * busyMs / capacityMs)),
      throughputPerMinute: round(total / (periodMs / 60_000)),
      byDevice
    }
  }

  close (): void { this.flush(); this.db.close() }
}

const round = (x: number): number => Math.round(x * 100) / 100
