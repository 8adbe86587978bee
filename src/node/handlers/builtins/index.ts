// The built-in task types every node registers (each advertised only where it can run).

import type { BaseTaskHandler, TaskRegistry } from '../registry.js'
import { EchoHandler } from './echo.js'
import { SleepHandler } from './sleep.js'
import { SystemInfoHandler } from './system-info.js'

export { EchoHandler, SleepHandler, SystemInfoHandler }

export function builtinHandlers (): BaseTaskHandler[] {
  return [new EchoHandler(), new SleepHandler(), new SystemInfoHandler()]
}

/** register the built-ins the registry does not have yet (a custom handler of the same type wins) */
export function registerBuiltins (registry: TaskRegistry): void {
  for (const h of builtinHandlers()) if (!registry.has(h.taskType)) registry.register(h)
}
