// Typed CLI errors and the exit codes scripts can rely on (documented in docs/cli.md).

export const EXIT = {
  OK: 0,
  /** the node answered with an error (4xx/5xx), or something else failed */
  ERROR: 1,
  /** bad command line or input file: nothing was sent */
  USAGE: 2,
  /** the node cannot be reached, or no node was found in the data dir */
  UNREACHABLE: 3,
  /** the task (or a task of the batch/workflow) ended failed, timed out or cancelled */
  TASK_FAILED: 4
} as const

export class CliError extends Error {
  readonly exitCode: number
  constructor (message: string, exitCode: number = EXIT.ERROR) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

/** Bad flags or input: exit 2. */
export class UsageError extends CliError {
  constructor (message: string) {
    super(message, EXIT.USAGE)
  }
}
