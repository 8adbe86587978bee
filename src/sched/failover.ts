// Failover (the seed's FailoverHandler.on_device_failure): a task that was running on a device that
// died is marked failed (device_failure) by the state machine, and a clone is submitted that must
// not go back to that device.

import type { Rng } from './rng.js'
import { cloneTaskData } from './task.js'
import type { TaskData } from './types.js'

/**
 * A clone of `task` with a new id, `replaces` = task.id, failedDeviceId added to excludeDevices
 * (once), the retry count kept (a failover is not a retry of the task's own fault).
 */
export function failoverClone (task: TaskData, failedDeviceId: string, ctx: { now: number, rng: Rng }): TaskData {
  const c = cloneTaskData(task, ctx)
  const ex = c.requirements.excludeDevices
  if (!ex.includes(failedDeviceId)) ex.push(failedDeviceId)
  return c
}
