// Where CLI output goes. Commands write through this, so tests can capture it and --json stays clean:
// results go to stdout, progress and notes to stderr.

export interface CliIo {
  out (line: string): void
  err (line: string): void
  /** true when stderr is a terminal (live progress bars only then) */
  readonly interactive: boolean
}

export const processIo: CliIo = {
  out: line => { process.stdout.write(line + '\n') },
  err: line => { process.stderr.write(line + '\n') },
  interactive: process.stderr.isTTY === true
}

/** Prints rows as an aligned text table. */
export function formatTable (headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

export function json (value: unknown): string {
  return JSON.stringify(value, null, 2)
}

export function ago (ms: number): string {
  const s = Math.max(0, ms) / 1000
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`
  if (s < 3600) return `${Math.round(s / 60)}m`
  return `${Math.round(s / 3600)}h`
}
