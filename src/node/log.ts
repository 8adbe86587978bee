// A tiny leveled logger: one line per event, to stderr, prefixed with the node name.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export interface Logger {
  debug (msg: string, ...a: unknown[]): void
  info (msg: string, ...a: unknown[]): void
  warn (msg: string, ...a: unknown[]): void
  error (msg: string, ...a: unknown[]): void
  child (name: string): Logger
}

export function createLogger (name: string, level: LogLevel = 'info'): Logger {
  const min = ORDER[level]
  const out = (lvl: LogLevel, msg: string, a: unknown[]): void => {
    if (ORDER[lvl] < min) return
    const extra = a.length > 0 ? ' ' + a.map(x => x instanceof Error ? x.message : typeof x === 'string' ? x : JSON.stringify(x)).join(' ') : ''
    process.stderr.write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} [${name}] ${msg}${extra}\n`)
  }
  return {
    debug: (m, ...a) => out('debug', m, a),
    info: (m, ...a) => out('info', m, a),
    warn: (m, ...a) => out('warn', m, a),
    error: (m, ...a) => out('error', m, a),
    child: (n) => createLogger(`${name}:${n}`, level)
  }
}
