// The smallest logger shape the networking layer needs. console, pino and our own node logger all fit it,
// so the host, channels and gossip take whatever the node was started with.
export interface Logger {
  debug(msg: string, ...args: unknown[]): void
  info(msg: string, ...args: unknown[]): void
  warn(msg: string, ...args: unknown[]): void
  error(msg: string, ...args: unknown[]): void
}

const noop = (): void => {}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }
