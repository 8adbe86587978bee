// The dispatch table: one step function per command type, the way etcd raft keeps a step function
// per role. apply() in ../state-machine.ts looks the command's type up here; an unknown type is an
// error reply, never a throw. Each step returns what goes into the ApplyOutcome beside the events.

import type { ApplyOutcome, ClusterEvent, Command } from '../commands.js'
import { applyAssign, applyRefused, applyStarted } from './assignment.js'
import { applyCancel } from './cancel.js'
import { applyDeviceDown } from './device-down.js'
import { applyEvict } from './evict.js'
import { applyHandoff } from './handoff.js'
import { applyPreempt } from './preempt.js'
import { applyExpire, applyFinished } from './results.js'
import { applySetRole, applySettings } from './settings.js'
import type { State } from './state.js'
import { applySubmit } from './submit.js'

export type StepResult = Omit<ApplyOutcome, 'events'>
type Step<K extends Command['type']> = (s: State, cmd: Extract<Command, { type: K }>, events: ClusterEvent[]) => StepResult

const NOTHING: StepResult = Object.freeze({})

export const STEPS: { readonly [K in Command['type']]: Step<K> } = {
  submit: (s, cmd, events) => ({ reply: applySubmit(s, cmd, events) }),
  assign: (s, cmd, events) => {
    const rejected = applyAssign(s, cmd, events)
    return rejected === undefined ? NOTHING : { rejected }
  },
  started: (s, cmd, events) => { applyStarted(s, cmd, events); return NOTHING },
  finished: (s, cmd, events) => {
    const reply = applyFinished(s, cmd, events)
    return reply === undefined ? NOTHING : { reply }
  },
  refused: (s, cmd) => { applyRefused(s, cmd); return NOTHING },
  deviceDown: (s, cmd, events) => { applyDeviceDown(s, cmd, events); return NOTHING },
  cancel: (s, cmd, events) => ({ reply: applyCancel(s, cmd, events) }),
  expire: (s, cmd, events) => { applyExpire(s, cmd, events); return NOTHING },
  setRole: (s, cmd) => ({ reply: applySetRole(s, cmd) }),
  handoff: (s, cmd, events) => { applyHandoff(s, cmd, events); return NOTHING },
  preempt: (s, cmd, events) => { applyPreempt(s, cmd, events); return NOTHING },
  evict: (s, cmd) => { applyEvict(s, cmd); return NOTHING },
  settings: (s, cmd) => ({ reply: applySettings(s, cmd) })
}

/** The step for a command type, or undefined (own keys only: 'toString' is not a command). */
export function stepFor (type: unknown): Step<Command['type']> | undefined {
  return typeof type === 'string' && Object.hasOwn(STEPS, type) ? STEPS[type as Command['type']] as Step<Command['type']> : undefined
}
