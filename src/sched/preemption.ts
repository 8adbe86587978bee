// Preemption, pure: which running low-priority work to stop so that urgent work waiting for a slot
// can run now. The leader calls planPreemptions after planAssignments (its assignments counted as
// in flight); it takes the URGENT/HIGH ready tasks that some device could run but none has a slot
// for, and the leader proposes one 'preempt' command per victim (state/preempt.ts puts the
// victim back in the queue, no retry used, no reliability charged), and the worker kills the
// victim's process through the usual cancel path. The freed slot goes to the urgent task in the
// next plan: the ready queue is in priority order.
//
// Defaults (../shared/research/device-aware.md §5 and §7b):
//  - only URGENT and HIGH tasks preempt, only LOW and BACKGROUND tasks are preempted, and only across
//    a gap of at least 2 levels (Nomad needs 10 levels of its 1..100 scale; ours has 5, and 2 keeps
//    HIGH from preempting NORMAL work and NORMAL from preempting anything);
//  - victims: lowest priority first, then the most recently started (Kubernetes' last tie-break,
//    Ray's OOM killer), which loses the least work; only running attempts (killing queued work
//    frees no execution slot).

import { MAX_PREEMPTIONS_PER_ROUND } from '../protocol/limits.js'
import type { TaskRecord } from './commands.js'
import { meetsRequirements } from './device.js'
import type { ClusterState } from './state-machine.js'
import { TaskPriority, type DeviceBid } from './types.js'

export interface PreemptionConfig {
  /** @default true */
  enabled: boolean
  /** tasks at this priority or more urgent may preempt (1 = URGENT). @default 2 (HIGH) */
  maxPreemptorPriority: number
  /** tasks at this priority or less urgent may be preempted. @default 4 (LOW) */
  minVictimPriority: number
  /** victim.priority − preemptor.priority must be at least this. @default 2 */
  minPriorityGap: number
}

export const DEFAULT_PREEMPTION: Readonly<PreemptionConfig> = Object.freeze({
  enabled: true,
  maxPreemptorPriority: TaskPriority.HIGH,
  minVictimPriority: TaskPriority.LOW,
  minPriorityGap: 2
})

export function preemptionConfig (patch: Partial<PreemptionConfig> | undefined): PreemptionConfig {
  if (patch === undefined) return DEFAULT_PREEMPTION
  const out: PreemptionConfig = { ...DEFAULT_PREEMPTION }
  if (typeof patch.enabled === 'boolean') out.enabled = patch.enabled
  for (const k of ['maxPreemptorPriority', 'minVictimPriority', 'minPriorityGap'] as const) {
    const v = patch[k]
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v
  }
  return out
}

export interface Preemption {
  /** the victim's current attempt on deviceId */
  taskId: string
  attempt: number
  deviceId: string
  /** the waiting task it makes room for */
  forTaskId: string
}

export interface PreemptOptions {
  /** assignments per device not yet visible in the bids, this round's included (as for planAssignments) */
  inflightByDevice: ReadonlyMap<string, number>
  /** tasks that must not preempt (assigned, or preempted for recently) or be preempted (already proposed) */
  skip?: { has (id: string): boolean }
  /** a task its rate limit holds back preempts nothing (RateLimiter.blocked) */
  rateLimited?: (rec: TaskRecord) => boolean
  /** @default MAX_PREEMPTIONS_PER_ROUND */
  max?: number
  /** ready tasks looked at, in queue order. @default 1000 */
  maxScan?: number
}

export function planPreemptions (state: ClusterState, bids: readonly DeviceBid[], now: number, opts: PreemptOptions): Preemption[] {
  const cfg = state.preemptionConfig()
  const out: Preemption[] = []
  const max = Math.min(opts.max ?? MAX_PREEMPTIONS_PER_ROUND, MAX_PREEMPTIONS_PER_ROUND)
  if (!cfg.enabled || max <= 0 || state.readyAtOrAbove(cfg.maxPreemptorPriority) === 0) return out
  const devices = [...bids].sort((a, b) => a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0)
    .filter(d => state.deviceHealth(d.nodeId, now) !== 'quarantined')
  const inflightOf = (d: DeviceBid): number => opts.inflightByDevice.get(d.nodeId) ?? 0
  // urgent ready tasks that no device has a free slot for now (the plan left them waiting)
  const preemptors: TaskRecord[] = []
  let scanned = 0
  for (const rec of state.readyIterator(now)) {
    if (++scanned > (opts.maxScan ?? 1000) || preemptors.length >= max) break
    if (rec.priority > cfg.maxPreemptorPriority || rec.task.requirements.exclusive || opts.skip?.has(rec.id) === true) continue
    if (opts.rateLimited?.(rec) === true || devices.some(d => meetsRequirements(d, rec.task, inflightOf(d)))) continue
    preemptors.push(rec)
  }
  if (preemptors.length === 0) return out
  // most urgent first; a stable sort keeps queue order within a level
  preemptors.sort((a, b) => a.priority - b.priority)
  const freed = new Map<string, number>()
  const taken = new Set<string>()
  for (const p of preemptors) {
    if (out.length >= max) break
    let best: { rec: TaskRecord, deviceId: string, startedAt: number } | undefined
    for (const d of devices) {
      // would the task fit here with one more slot free?
      const inflight = inflightOf(d) - (freed.get(d.nodeId) ?? 0) - 1
      if (!meetsRequirements(d, p.task, inflight)) continue
      for (const v of state.runningOn(d.nodeId)) {
        if (!isVictim(v, p, cfg) || taken.has(v.id) || opts.skip?.has(v.id) === true) continue
        const att = v.attempts[v.attempts.length - 1]
        const startedAt = att?.startedAt ?? att?.assignedAt ?? 0
        if (best === undefined || better(v, startedAt, d.nodeId, best)) best = { rec: v, deviceId: d.nodeId, startedAt }
      }
    }
    if (best === undefined) continue
    taken.add(best.rec.id)
    freed.set(best.deviceId, (freed.get(best.deviceId) ?? 0) + 1)
    out.push({ taskId: best.rec.id, attempt: best.rec.attempts.length, deviceId: best.deviceId, forTaskId: p.id })
  }
  return out
}

function isVictim (v: TaskRecord, p: TaskRecord, cfg: PreemptionConfig): boolean {
  return v.status === 'running' && v.handoffTo === undefined && v.priority >= cfg.minVictimPriority &&
    v.priority - p.priority >= cfg.minPriorityGap
}

/** lowest priority (highest number) first, then the most recently started; ties by ids, so every leader agrees */
function better (v: TaskRecord, startedAt: number, deviceId: string, best: { rec: TaskRecord, deviceId: string, startedAt: number }): boolean {
  if (v.priority !== best.rec.priority) return v.priority > best.rec.priority
  if (startedAt !== best.startedAt) return startedAt > best.startedAt
  if (deviceId !== best.deviceId) return deviceId < best.deviceId
  return v.id < best.rec.id
}
