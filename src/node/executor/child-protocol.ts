// The IPC between the executor and a handler's child process: one message shape per direction.

import type { EffectiveLimits, NodePolicy } from '../handlers/context.js'
import type { TaskErrorData } from '../../sched/types.js'

export interface RunRequest {
  t: 'run'
  modulePath: string
  taskType: string
  taskId: string
  attempt: number
  payload: unknown
  policy: NodePolicy
  limits: EffectiveLimits
}

export type ParentToChild = RunRequest | { t: 'abort' }

export type ChildToParent =
  | { t: 'ready' }
  | { t: 'progress', pct: number }
  | { t: 'log', msg: string }
  | { t: 'done', ok: true, value: unknown }
  | { t: 'done', ok: false, error: TaskErrorData }
