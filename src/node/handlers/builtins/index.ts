// The built-in task types every node registers (each advertised only where it can run).

import type { BaseTaskHandler, TaskRegistry } from '../registry.js'
import { EchoHandler } from './echo.js'
import { SleepHandler } from './sleep.js'
import { SystemInfoHandler } from './system-info.js'
import { PythonEvalHandler } from './python-eval.js'
import { CommandHandler } from './command.js'
import { FileOperationHandler } from './file-operation.js'

export { EchoHandler, SleepHandler, SystemInfoHandler, PythonEvalHandler, CommandHandler, FileOperationHandler }

export function builtinHandlers (): BaseTaskHandler[] {
  return [new EchoHandler(), new SleepHandler(), new SystemInfoHandler(), new PythonEvalHandler(), new CommandHandler(), new FileOperationHandler()]
}

/** register the built-ins the registry does not have yet (a custom handler of the same type wins) */
export function registerBuiltins (registry: TaskRegistry): void {
  for (const h of builtinHandlers()) if (!registry.has(h.taskType)) registry.register(h)
}
