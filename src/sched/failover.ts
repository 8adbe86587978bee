// Failover (the seed's FailoverHandler.on_device_failure): a task that was running on a device that
// died is marked failed (device_failure) by the state machine, and a clone is submitted that must
// not go back to that device.

import type { Rng } from './rng.js'
import { cloneTaskData } from './task.js'
import type { TaskData } from './types.js'

/**
 * A clone of `task` with a new id, `replaces` = task.id, failedDeviceId added to excludeDevices and
 * to failedOn (once each), the retry count kept (a failover is not a retry of the task's own fault).
 * failedOn keeps the cluster's exclusions apart from the user's: a chain that was declared down on
 * every device of a small cluster (three leader kills in a row, say) may go back to one of them.
 */
export function failoverClone (task: TaskData, failedDeviceId: string, ctx: { now: number, rng: Rng }): TaskData {
  const c = cloneTaskData(task, ctx)
  const ex = c.requirements.excludeDevices
  if (!ex.includes(failedDeviceId)) {
    ex.push(failedDeviceId)
    c.failedOn = [...(c.failedOn ?? []), failedDeviceId]
  }
  return c
}
