// The snapshot: a plain-object image of the replicated state (msgpackr-friendly), and the state
// rebuilt from one. Derived indexes (status sets, device sets, ended, workflow indexes) are not in
// it; restore rebuilds them. The leader's local pending reasons are not replicated, so not in it.

import type { ClusterSettings, Role, TaskRecord } from '../commands.js'
import { TERMINAL_STATUSES } from '../types.js'
import { addToDevice, enqueue, freezeRecord } from './records.js'
import { replyIds } from './requests.js'
import { createState, type BatchState, type ClusterStateOptions, type Reply, type StagedBatch, type State, type WorkflowState } from './state.js'
import { indexWorkflow } from './workflows.js'
import type { DeviceReliability } from '../reliability.js'

export interface Snapshot {
  version: 1
  appliedIndex: number
  tasks: TaskRecord[]
  queue: Array<[string, number]>          // ready-queue entries in enqueue order, with enqueue time
  lastEnqueueAt: number
  blocked: string[]
  requests: Array<[string, Reply]>
  idempotency: Array<[string, string]>
  roles: Array<[string, Role]>
  batches: BatchState[]
  workflows: WorkflowState[]
  /** absent in snapshots taken before chunked batches existed */
  staged?: StagedBatch[]
  /** absent in snapshots taken before retention existed */
  settings?: ClusterSettings
  tombstones?: string[]
  tombstoneFloorMs?: number
  evicted?: number
  /** absent in snapshots taken before reliability existed (= no device has a record yet) */
  reliability?: DeviceReliability[]
}

/** It shares objects with the live state: encode it before applying further commands. */
export function takeSnapshot (s: State): Snapshot {
  return {
    version: 1,
    appliedIndex: s.appliedIndex,
    tasks: [...s.tasks.values()],
    queue: [...s.enqueuedAt],
    lastEnqueueAt: s.lastEnqueueAt,
    blocked: [...s.blocked],
    requests: [...s.requests],
    idempotency: [...s.idempotency],
    roles: [...s.roles],
    batches: [...s.batches.values()],
    workflows: [...s.workflows.values()],
    staged: [...s.staged.values()],
    settings: s.settings,
    tombstones: [...s.tombstones],
    tombstoneFloorMs: s.tombstoneFloorMs,
    evicted: s.evictedTotal,
    // sorted by device id: the map's order depends on history, which a restored replica does not share
    reliability: [...s.reliability.values()].sort((a, b) => a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0)
  }
}

export function restoreState (snap: unknown, opts: ClusterStateOptions): State {
  const steps = restoreSteps(snap, opts, Infinity)
  for (;;) {
    const r = steps.next()
    if (r.done === true) return r.value
  }
}

/**
 * restoreState a slice at a time: pauses (yields) after every `sliceItems` records it put in place,
 * so a follower restoring a full retention's snapshot (~0.4 s per 100,000 tasks in one go) can take
 * a turn in between. Returns the state.
 */
export function * restoreSteps (snap: unknown, opts: ClusterStateOptions, sliceItems: number): Generator<void, State, void> {
  const sn = snap as Snapshot
  if (sn == null || sn.version !== 1) throw new Error('unsupported cluster-state snapshot version')
  const s = createState(opts)
  let n = 0
  /** true when a slice is full */
  const counted = (): boolean => ++n % sliceItems === 0
  s.appliedIndex = sn.appliedIndex
  const freeze = s.opts.freezeEnded === true
  for (const rec of sn.tasks) {
    s.tasks.set(rec.id, rec)
    if (TERMINAL_STATUSES.has(rec.status)) {
      s.ended.add(rec)
      if (freeze) freezeRecord(rec)
    }
    s.byStatus.get(rec.status)!.add(rec.id)
    s.counts[rec.status]++
    if ((rec.status === 'queued' || rec.status === 'running') && rec.deviceId !== undefined) addToDevice(s, rec.deviceId, rec.id)
    if (counted()) yield
  }
  for (const [id, at] of sn.queue) {
    enqueue(s, s.tasks.get(id) as TaskRecord, at)
    if (counted()) yield
  }
  s.lastEnqueueAt = sn.lastEnqueueAt
  for (const id of sn.blocked) s.blocked.add(id)
  for (const [k, v] of sn.requests) {
    s.requests.set(k, v)
    s.rememberedIds += replyIds(v)
    if (counted()) yield
  }
  for (const [k, v] of sn.idempotency) {
    s.idempotency.set(k, v)
    if (counted()) yield
  }
  for (const [k, v] of sn.roles) s.roles.set(k, v)
  for (const b of sn.batches) s.batches.set(b.id, b)
  for (const w of sn.workflows) { s.workflows.set(w.id, w); indexWorkflow(s, w) }
  for (const b of sn.staged ?? []) { s.staged.set(b.batch.id, b); s.stagedTasks += b.tasks.length }
  if (sn.settings !== undefined) s.settings = sn.settings
  for (const id of sn.tombstones ?? []) {
    s.tombstones.add(id)
    if (counted()) yield
  }
  s.tombstoneFloorMs = sn.tombstoneFloorMs ?? 0
  s.evictedTotal = sn.evicted ?? 0
  for (const r of sn.reliability ?? []) s.reliability.set(r.deviceId, r)
  return s
}
