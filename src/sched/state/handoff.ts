// The 'handoff' command: how a draining device gives its running work away without being blamed
// (Nomad's drain, BOINC's "never count a suspend as an error").
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

import type { ClusterEvent, Command, TaskRecord } from '../commands.js'
import type { TaskErrorData } from '../types.js'
import { cancelTask } from './cancel.js'
import { queueClone } from './device-down.js'
import { changeable, endInFlight } from './records.js'
import type { State } from './state.js'
import { moveStep } from './workflows.js'

type HandoffCommand = Extract<Command, { type: 'handoff' }>

/** what a hand-off may take over: from both, 'cancelled' (a release) is in status.ts's table */
const IN_FLIGHT = new Set(['queued', 'running'])


export function applyHandoff (s: State, cmd: HandoffCommand, events: ClusterEvent[]): void {
  if (typeof cmd.at !== 'number' || typeof cmd.taskId !== 'string' || typeof cmd.deviceId !== 'string') return
  const reason = typeof cmd.reason === 'string' ? cmd.reason : 'draining'
  switch (cmd.phase) {
    case 'clone': {
      const rec = inFlightOn(s, cmd)
      if (rec === undefined || liveClone(s, rec) !== undefined) return
      const clone = queueClone(s, rec, cmd.deviceId, cmd.at)
      rec.handoffTo = clone.id
      events.push({ kind: 'submit', taskId: clone.id, at: cmd.at, replaces: rec.id })
      return
    }
    case 'release': release(s, cmd, reason, events); return
    case 'abort': {
      const found = s.tasks.get(cmd.taskId)
      if (found === undefined || found.handoffTo === undefined || found.replacedBy === found.handoffTo) return
      const rec = changeable(s, found) // the original may have ended meanwhile
      const clone = s.tasks.get(found.handoffTo)
      delete rec.handoffTo
      if (clone !== undefined && (clone.status === 'pending' || clone.status === 'queued')) {
        cancelTask(s, clone, `hand-off of ${rec.id} not needed: ${reason}`, cmd.at, events)
      }
    }
  }
}

/** The clone took over: the original's attempt ends cancelled, replaced by the clone. */
function release (s: State, cmd: HandoffCommand, reason: string, events: ClusterEvent[]): void {
  const rec = inFlightOn(s, cmd)
  const clone = rec === undefined ? undefined : liveClone(s, rec)
  if (rec === undefined || clone === undefined) return
  const error: TaskErrorData = { type: 'cancelled', message: `handed off to ${clone.id}: device ${cmd.deviceId} is draining (${reason})` }
  const att = endInFlight(s, rec, 'cancelled', error, cmd.at)
  rec.replacedBy = clone.id
  moveStep(s, rec, clone)
  // final:false — the work goes on in the clone; the leader kills the original on this event
  events.push({ kind: 'error', taskId: rec.id, attempt: att.attempt, deviceId: cmd.deviceId, at: cmd.at, error, final: false, status: 'cancelled' })
  events.push({ kind: 'failover', taskId: rec.id, cloneId: clone.id, deviceId: cmd.deviceId, at: cmd.at })
}

/** the original's attempt named by the command, while still in flight on that device */
function inFlightOn (s: State, cmd: HandoffCommand): TaskRecord | undefined {
  const rec = s.tasks.get(cmd.taskId)
  if (rec === undefined || !IN_FLIGHT.has(rec.status) || cmd.attempt !== rec.attempts.length) return undefined
  return rec.attempts[cmd.attempt - 1]?.deviceId === cmd.deviceId ? rec : undefined
}

/** the clone a hand-off of rec queued, while it is not finished */
function liveClone (s: State, rec: TaskRecord): TaskRecord | undefined {
  if (rec.handoffTo === undefined) return undefined
  const c = s.tasks.get(rec.handoffTo)
  return c !== undefined && (c.status === 'pending' || c.status === 'queued' || c.status === 'running' || c.status === 'completed') ? c : undefined
}
