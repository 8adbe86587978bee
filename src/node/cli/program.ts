// The `retire-cluster` command tree (commander). Commands parse flags into typed options; their actions
// do the work through the API client. runCli returns the exit code instead of exiting, so tests can call it.

import { Command, CommanderError } from 'commander'
import { MSG } from './messages.js'
import { EXIT } from './errors.js'
import { toCliError } from './context.js'
import { processIo, type CliIo } from './io.js'
import { startCommand } from './commands/start.js'
import { submitCommand } from './commands/submit.js'
import { statusCommand } from './commands/status.js'
import { tasksCommand } from './commands/tasks.js'
import { cancelCommand } from './commands/cancel.js'
import { nodesCommand } from './commands/nodes.js'
import { batchCommand } from './commands/batch.js'
import { workflowCommand } from './commands/workflow.js'
import { metricsCommand } from './commands/metrics.js'
import { keyCommand } from './commands/key.js'
import { drainCommand, undrainCommand } from './commands/drain.js'
import { settingsCommand } from './commands/settings.js'
import { doctorCommand } from './commands/doctor.js'

export const VERSION = '0.1.0'

export function buildProgram (io: CliIo = processIo): Command {
  const program = new Command('retire-cluster')
    .description(MSG.description)
    .version(VERSION)
    .showSuggestionAfterError()
  for (const make of [startCommand, submitCommand, statusCommand, tasksCommand, cancelCommand, nodesCommand, drainCommand, undrainCommand, settingsCommand, batchCommand, workflowCommand, metricsCommand, keyCommand, doctorCommand]) {
    program.addCommand(make(io))
  }
  // Every command (and sub-command) throws instead of exiting, and writes its own errors as one line.
  const configure = (cmd: Command): void => {
    cmd.exitOverride()
    cmd.configureOutput({
      writeOut: s => { process.stdout.write(s) },
      writeErr: s => { process.stderr.write(s) },
      outputError: (s, write) => { write(s.replace(/^error: /, MSG.errPrefix)) }
    })
    cmd.commands.forEach(configure)
  }
  configure(program)
  return program
}

/** Runs the CLI; resolves to the process exit code. */
export async function runCli (argv: string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io)
  try {
    await program.parseAsync(argv)
    return EXIT.OK
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version end here with code 0; parse errors were already printed by commander.
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK
      if (err.code === 'commander.executeSubCommandAsync') return EXIT.OK
      return EXIT.USAGE
    }
    const e = toCliError(err)
    io.err(MSG.errPrefix + e.message.split('\n')[0])
    return e.exitCode
  }
}
