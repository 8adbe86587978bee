// The leader's side of a drain: for every device whose bid says `draining`, each task running there
// either finishes within the time left or is handed off through the replicated log ('handoff'
// command, src/sched/state/handoff.ts): a clone is queued elsewhere at once, the original
// is cancelled once the clone runs (or at the deadline), and a clone nobody needs any more is
// aborted. Stateless apart from de-duplication: a new leader derives the same steps from the
// replicated state and the bids, so a drain survives a change of leader.

import type { ClusterState } from '../../sched/state-machine.js'
import type { ClusterEvent, Command, TaskRecord } from '../../sched/commands.js'
import type { DeviceBid } from '../../sched/types.js'
import { realScheduler, type CancelTimer } from '../scheduler.js'

export interface HandoffInit {
  state: () => ClusterState
  bids: () => DeviceBid[]
  propose: (cmd: Command) => void
  now: () => number
}

/** the same step is not proposed again within this (it is idempotent; this only saves log entries) */
const REPROPOSE_MS = 2000
/** a task finishes in place only if its estimate leaves this share of the time left as margin */
const FINISH_MARGIN = 0.8
/** how often a node that leads looks at the draining devices' tasks */
const HANDOFF_INTERVAL_MS = 250
/** ... and how often while no device drains and no hand-off clone waits (a drain starting is seen within it) */
const IDLE_HANDOFF_INTERVAL_MS = 1000
/** bound on the de-duplication map */
const MAX_REMEMBERED = 10_000

type Phase = Extract<Command, { type: 'handoff' }>['phase']

export class HandoffController {
  /** deviceId → when the drain deadline passes, as this leader estimates it from the bids */
  private readonly deadlines = new Map<string, number>()
  private readonly proposed = new Map<string, number>()

  private offEvents?: () => void
  private cancelTick?: CancelTimer
  private isLeader: () => boolean = () => false

  constructor (private readonly d: HandoffInit) {}

  /**
   * In a node: every node runs this, and it acts only while `isLeader()` (a new leader derives the
   * same steps), on each applied event and, while `leading(true)`, every HANDOFF_INTERVAL_MS, until
   * stop().
   */
  start (isLeader: () => boolean, onApplied: (listener: (e: ClusterEvent) => void) => () => void): void {
    if (this.offEvents !== undefined) return
    this.isLeader = isLeader
    this.offEvents = onApplied(e => { if (isLeader()) this.onEvent(e) })
    if (isLeader()) this.leading(true)
  }

  /**
   * The node became leader, or stopped being it: the tick runs only on the leader. A follower has
   * nothing to hand off, and an idle phone's battery counts its wake-ups (bench: idleWakeupsPerSec).
   */
  leading (on: boolean): void {
    if (on && this.cancelTick === undefined && this.offEvents !== undefined) {
      const pass = (): void => {
        const busy = this.isLeader() && this.tick()
        this.cancelTick = realScheduler.timeout(pass, busy ? HANDOFF_INTERVAL_MS : IDLE_HANDOFF_INTERVAL_MS, { unref: true })
      }
      this.cancelTick = realScheduler.timeout(pass, HANDOFF_INTERVAL_MS, { unref: true })
    } else if (!on) {
      this.cancelTick?.()
      this.cancelTick = undefined
    }
  }

  stop (): void {
    this.leading(false)
    this.offEvents?.()
    this.offEvents = undefined
  }

  /** one pass over the draining devices; call a few times a second while leader. True if any device drains or any hand-off is under way. */
  tick (): boolean {
    const now = this.d.now()
    const state = this.d.state()
    const draining = new Set<string>()
    for (const b of this.d.bids()) {
      if (b.device?.state !== 'draining') continue
      draining.add(b.nodeId)
      const left = b.device.drainLeftMs ?? 0
      const est = now + left
      const prev = this.deadlines.get(b.nodeId)
      this.deadlines.set(b.nodeId, prev === undefined ? est : Math.min(prev, est))
      const reason = b.device.reason ?? 'draining'
      for (const rec of state.runningOn(b.nodeId)) this.step(rec, b.nodeId, reason, now, state)
    }
    for (const id of [...this.deadlines.keys()]) if (!draining.has(id)) this.deadlines.delete(id)
    // undrained (or back to cordoned) devices: a clone not started yet is not needed
    let clones = false
    for (const id of state.devicesWithTasks()) {
      if (draining.has(id)) continue
      for (const rec of state.runningOn(id)) {
        if (rec.handoffTo !== undefined) { clones = true; this.propose('abort', rec, id, 'device no longer draining', now) }
      }
    }
    return draining.size > 0 || clones
  }

  /** an original ended on its own while its hand-off clone waits: the clone goes */
  onEvent (e: ClusterEvent): void {
    if (e.kind !== 'complete' && e.kind !== 'error' && e.kind !== 'failover') return
    const rec = this.d.state().getTask(e.taskId)
    if (rec === undefined || rec.handoffTo === undefined || rec.replacedBy === rec.handoffTo) return
    if (rec.status === 'queued' || rec.status === 'running') return
    const att = rec.attempts[rec.attempts.length - 1]
    if (att !== undefined) this.propose('abort', rec, att.deviceId, `original ${rec.status}`, this.d.now())
  }

  private step (rec: TaskRecord, deviceId: string, reason: string, now: number, state: ClusterState): void {
    const deadline = this.deadlines.get(deviceId) ?? now
    const clone = rec.handoffTo === undefined ? undefined : state.getTask(rec.handoffTo)
    const cloneAlive = clone !== undefined && clone.status !== 'cancelled' && clone.status !== 'failed' && clone.status !== 'timeout'
    if (!cloneAlive) {
      if (now < deadline && mayFinishInPlace(rec, now, deadline - now)) return
      this.propose('clone', rec, deviceId, reason, now)
      return
    }
    if (clone.status === 'running' || clone.status === 'completed' || now >= deadline) this.propose('release', rec, deviceId, reason, now)
  }

  private propose (phase: Phase, rec: TaskRecord, deviceId: string, reason: string, now: number): void {
    const attempt = rec.attempts.length
    const key = `${rec.id}:${attempt}:${phase}`
    const last = this.proposed.get(key)
    if (last !== undefined && now - last < REPROPOSE_MS) return
    if (this.proposed.size >= MAX_REMEMBERED) this.proposed.clear()
    this.proposed.set(key, now)
    try {
      this.d.propose({ type: 'handoff', at: now, phase, taskId: rec.id, attempt, deviceId, reason })
    } catch {} // not leader any more: the next leader takes over from the replicated state
  }
}

/**
 * Will the attempt finish within `leftMs`? Only a task reporting progress can say; one that does not
 * is handed off at once (a drain must not wait on a guess).
 */
export function mayFinishInPlace (rec: TaskRecord, now: number, leftMs: number): boolean {
  const att = rec.attempts[rec.attempts.length - 1]
  if (att?.startedAt === undefined || rec.progress <= 0 || rec.progress >= 100) return rec.progress >= 100
  const elapsed = Math.max(0, now - att.startedAt)
  const eta = elapsed * (100 - rec.progress) / rec.progress
  return eta < leftMs * FINISH_MARGIN
}
