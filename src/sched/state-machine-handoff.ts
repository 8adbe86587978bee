// The 'handoff' command of the cluster state machine: how a draining device gives its running work
// away without being blamed (Nomad's drain, BOINC's "never count a suspend as an error"). Kept out of
// state-machine.ts so that file only gains a case and a small adapter (ClusterState.handoffOps).
//
//   clone    the attempt (taskId, attempt) runs on deviceId: queue a clone that excludes deviceId and
//            remember it on the original (handoffTo). The original keeps running: if it finishes
//            first, its result counts and the clone is aborted.
//   release  the clone runs (or the drain deadline passed): the original ends 'cancelled' with
//            replacedBy = the clone, so waiters follow it; the leader kills the original's process
//            on the 'error' event (status cancelled, deviceId set). No device_failure, no retry used.
//   abort    the original ended some other way, or the device was undrained: a clone that has not
//            started is cancelled and the link is dropped.
// Every phase is idempotent and checks (taskId, attempt, deviceId), so a repeat or a stale proposal
// of an earlier leader changes nothing.

import type { ClusterEvent, Command, TaskRecord } from './commands.js'
import type { TaskErrorData } from './types.js'

/** What the hand-off needs of ClusterState (its private indexes stay there). */
export interface HandoffOps {
  get: (id: string) => TaskRecord | undefined
  /** a failover clone of rec excluding deviceId, inserted and queued */
  clone: (rec: TaskRecord, deviceId: string, at: number) => TaskRecord
  /** end rec's in-flight attempt as cancelled, replaced by clone (no event) */
  supersede: (rec: TaskRecord, clone: TaskRecord, error: TaskErrorData, at: number) => void
  cancel: (rec: TaskRecord, message: string, at: number, events: ClusterEvent[]) => void
}

type HandoffCommand = Extract<Command, { type: 'handoff' }>

const IN_FLIGHT = new Set(['queued', 'running'])

/** the original's attempt named by the command, while still in flight on that device */
function inFlightOn (ops: HandoffOps, cmd: HandoffCommand): TaskRecord | undefined {
  const rec = ops.get(cmd.taskId)
  if (rec === undefined || !IN_FLIGHT.has(rec.status) || cmd.attempt !== rec.attempts.length) return undefined
  return rec.attempts[cmd.attempt - 1]?.deviceId === cmd.deviceId ? rec : undefined
}

export function applyHandoff (ops: HandoffOps, cmd: HandoffCommand, events: ClusterEvent[]): void {
  if (typeof cmd.at !== 'number' || typeof cmd.taskId !== 'string' || typeof cmd.deviceId !== 'string') return
  const reason = typeof cmd.reason === 'string' ? cmd.reason : 'draining'
  switch (cmd.phase) {
    case 'clone': {
      const rec = inFlightOn(ops, cmd)
      if (rec === undefined || liveClone(ops, rec) !== undefined) return
      const clone = ops.clone(rec, cmd.deviceId, cmd.at)
      rec.handoffTo = clone.id
      events.push({ kind: 'submit', taskId: clone.id, at: cmd.at })
      return
    }
    case 'release': {
      const rec = inFlightOn(ops, cmd)
      const clone = rec === undefined ? undefined : liveClone(ops, rec)
      if (rec === undefined || clone === undefined) return
      const att = rec.attempts[rec.attempts.length - 1]!
      const error: TaskErrorData = { type: 'cancelled', message: `handed off to ${clone.id}: device ${cmd.deviceId} is draining (${reason})` }
      ops.supersede(rec, clone, error, cmd.at)
      // final:false — the work goes on in the clone; the leader kills the original on this event
      events.push({ kind: 'error', taskId: rec.id, attempt: att.attempt, deviceId: cmd.deviceId, at: cmd.at, error, final: false, status: 'cancelled' })
      events.push({ kind: 'failover', taskId: rec.id, cloneId: clone.id, deviceId: cmd.deviceId, at: cmd.at })
      return
    }
    case 'abort': {
      const rec = ops.get(cmd.taskId)
      if (rec === undefined || rec.handoffTo === undefined || rec.replacedBy === rec.handoffTo) return
      const clone = ops.get(rec.handoffTo)
      delete rec.handoffTo
      if (clone !== undefined && (clone.status === 'pending' || clone.status === 'queued')) {
        ops.cancel(clone, `hand-off of ${rec.id} not needed: ${reason}`, cmd.at, events)
      }
    }
  }
}

/** the clone a hand-off of rec queued, while it is not finished */
function liveClone (ops: HandoffOps, rec: TaskRecord): TaskRecord | undefined {
  if (rec.handoffTo === undefined) return undefined
  const c = ops.get(rec.handoffTo)
  return c !== undefined && (c.status === 'pending' || c.status === 'queued' || c.status === 'running' || c.status === 'completed') ? c : undefined
}
