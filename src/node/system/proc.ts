// Per-process CPU and memory from /proc (Linux and Android). Elsewhere these return undefined and
// the executor simply has no live figures for child processes.

import { readFileSync } from 'node:fs'

/** Linux's USER_HZ is 100 on every architecture we run on (x86, arm, arm64). */
const CLOCK_TICKS_PER_SEC = 100

/** utime+stime of a process in ms of CPU time, or undefined if it is gone. */
export function procCpuMs (pid: number): number | undefined {
  let text: string
  try { text = readFileSync(`/proc/${pid}/stat`, 'latin1') } catch { return undefined }
  // comm (field 2) may contain spaces and parentheses: fields after it start past the last ')'
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // rest[0] is field 3 (state); utime is field 14, stime field 15
  const utime = Number(rest[11])
  const stime = Number(rest[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined
  return (utime + stime) * 1000 / CLOCK_TICKS_PER_SEC
}

/** resident set size in bytes, or undefined if the process is gone */
export function procRssBytes (pid: number): number | undefined {
  let text: string
  try { text = readFileSync(`/proc/${pid}/status`, 'latin1') } catch { return undefined }
  const i = text.indexOf('VmRSS:')
  if (i < 0) return undefined
  const kb = parseInt(text.slice(i + 6), 10)
  return Number.isFinite(kb) ? kb * 1024 : undefined
}

/**
 * CPU time is counted in 10 ms ticks, so a CPU % over a short window is mostly noise: the figure
 * is refreshed only once this much time has passed (RSS is fresh on every sample).
 */
const MIN_CPU_WINDOW_MS = 450

/** Tracks one process's CPU % between samples at least MIN_CPU_WINDOW_MS apart. */
export class ProcSampler {
  private lastCpuMs: number | undefined
  private lastAt = 0
  private cpu = 0
  constructor (readonly pid: number) {}

  /** cpu percent of one core over the last window (0 until the first window ends), rss in bytes */
  sample (now: number): { cpu: number, rssBytes: number } | undefined {
    const rss = procRssBytes(this.pid)
    if (rss === undefined) return undefined
    if (this.lastCpuMs === undefined || now - this.lastAt >= MIN_CPU_WINDOW_MS) {
      const cpuMs = procCpuMs(this.pid)
      if (cpuMs === undefined) return undefined
      if (this.lastCpuMs !== undefined) this.cpu = Math.max(0, (cpuMs - this.lastCpuMs) * 100 / (now - this.lastAt))
      this.lastCpuMs = cpuMs
      this.lastAt = now
    }
    return { cpu: this.cpu, rssBytes: rss }
  }
}
