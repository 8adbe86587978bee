// What a retired device can sense about itself without root: battery and mains, battery and SoC
// temperature, CPU throttling, memory pressure, free disk, CPU used by the owner's programs, and
// when the owner last typed. Every path is under `root` (default '/'), so tests point it at a
// fixture tree (test/fixtures/devices/…). A file that is missing or denied gives 'unknown' for its
// signal, never "no battery": Android hides /sys/class/power_supply and /proc/stat from apps.
//
// The synchronous reads here are of small sysfs/procfs files, as sample.ts already does once a
// second. Commands (termux-battery-status, vcgencmd) run asynchronously with a timeout, and
// their last answer is cached: one that hangs (termux/termux-api#542) only makes its signal unknown.

import { readFileSync, readdirSync, statSync, statfsSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import type { BatterySignal, DeviceSignals } from '../../sched/device-policy.js'

export interface SignalSourceOptions {
  /** directory that stands for '/' (sys/, proc/, dev/ under it). @default '/' */
  root?: string
  /** directory to run termux-battery-status and vcgencmd from; undefined = search PATH */
  binDir?: string
  /** use termux-battery-status for the battery. @default true on Termux, else false */
  termux?: boolean
  /** directory whose filesystem's free space counts. @default process.cwd() */
  dataDir?: string
  /** a command that does not answer within this is given up on (its signal stays unknown). @default 3000 */
  commandTimeoutMs?: number
  /** refresh commands' answers this often. @default 10000 */
  commandIntervalMs?: number
}

type Read<T> = T | 'unknown'

function readText (path: string): string | undefined {
  try { return readFileSync(path, 'latin1').trim() } catch { return undefined }
}

function readNum (path: string): number | undefined {
  const t = readText(path)
  if (t === undefined || t === '') return undefined
  const n = Number(t)
  return Number.isFinite(n) ? n : undefined
}

function list (dir: string): string[] | undefined {
  try { return readdirSync(dir) } catch { return undefined }
}

// ---- battery (sysfs) -----------------------------------------------------------------------------

const SYSFS_STATUS: Record<string, BatterySignal['status']> = {
  Charging: 'charging', Discharging: 'discharging', 'Not charging': 'not_charging', Full: 'full'
}

/**
 * /sys/class/power_supply: the first Battery, with Mains/USB `online`. 'none' when the directory
 * is readable and holds no battery (a desktop); 'unknown' when it cannot be read.
 * `temp` is in tenths of a °C (Documentation/ABI/testing/sysfs-class-power).
 */
export function readSysfsBattery (root: string): Read<BatterySignal | 'none'> {
  const base = join(root, 'sys/class/power_supply')
  const names = list(base)
  if (names === undefined) return 'unknown'
  let battery: BatterySignal | undefined
  let sawBattery = false
  let mains: boolean | 'unknown' = 'unknown'
  for (const name of names.sort()) {
    const dir = join(base, name)
    const type = readText(join(dir, 'type'))
    if (type === 'Mains' || type === 'USB' || type === 'Wireless') {
      const online = readNum(join(dir, 'online'))
      if (online === 1) mains = true
      else if (online === 0 && mains === 'unknown') mains = false
    } else if (type === 'Battery' && battery === undefined) {
      sawBattery = true
      const percent = readNum(join(dir, 'capacity'))
      if (percent === undefined) continue
      const temp = readNum(join(dir, 'temp'))
      battery = { percent, status: SYSFS_STATUS[readText(join(dir, 'status')) ?? ''] ?? 'unknown', onMains: 'unknown' }
      if (temp !== undefined) battery.temperatureC = temp / 10
    }
  }
  if (battery === undefined) return sawBattery ? 'unknown' : 'none'
  battery.onMains = mains
  return battery
}

// ---- battery (Termux) ----------------------------------------------------------------------------

const TERMUX_STATUS: Record<string, BatterySignal['status']> = {
  CHARGING: 'charging', DISCHARGING: 'discharging', NOT_CHARGING: 'not_charging', FULL: 'full'
}

/** termux-battery-status JSON (termux-api BatteryStatusAPI.java) → a battery signal, or 'unknown'. */
export function parseTermuxBattery (text: string): Read<BatterySignal> {
  let j: Record<string, unknown>
  try { j = JSON.parse(text) } catch { return 'unknown' }
  if (typeof j !== 'object' || j === null || typeof j.percentage !== 'number') return 'unknown'
  const plugged = typeof j.plugged === 'string' ? j.plugged : ''
  const b: BatterySignal = {
    percent: j.percentage,
    status: TERMUX_STATUS[String(j.status)] ?? 'unknown',
    onMains: plugged === '' ? 'unknown' : plugged !== 'UNPLUGGED'
  }
  if (typeof j.temperature === 'number') b.temperatureC = j.temperature
  if (j.health === 'OVERHEAT') b.overheat = true
  return b
}

// ---- thermal, throttling -------------------------------------------------------------------------

/** Hottest /sys/class/thermal zone (m°C) and its passive trip point, if any. */
export function readThermal (root: string): DeviceSignals['thermal'] {
  const base = join(root, 'sys/class/thermal')
  const names = list(base)
  if (names === undefined) return 'unknown'
  let best: { hottestC: number, zone: string, passiveTripC?: number } | undefined
  for (const name of names.sort()) {
    if (!name.startsWith('thermal_zone')) continue
    const dir = join(base, name)
    const milli = readNum(join(dir, 'temp'))
    if (milli === undefined || milli <= -273_000) continue
    const c = milli / 1000
    if (best !== undefined && c <= best.hottestC) continue
    best = { hottestC: c, zone: readText(join(dir, 'type')) ?? name }
    for (let i = 0; i < 32; i++) { // bound: zones have a handful of trips
      const type = readText(join(dir, `trip_point_${i}_type`))
      if (type === undefined) break
      if (type !== 'passive') continue
      const t = readNum(join(dir, `trip_point_${i}_temp`))
      if (t !== undefined && t > 0) { best.passiveTripC = t / 1000; break }
    }
  }
  return best ?? 'unknown'
}

/** Lowest scaling_cur_freq / cpuinfo_max_freq over the cores; undefined when cpufreq is not readable. */
export function readFreqRatio (root: string): number | undefined {
  const base = join(root, 'sys/devices/system/cpu')
  const names = list(base)
  if (names === undefined) return undefined
  let lowest: number | undefined
  for (const name of names) {
    if (!/^cpu\d+$/.test(name)) continue
    const cur = readNum(join(base, name, 'cpufreq/scaling_cur_freq'))
    const max = readNum(join(base, name, 'cpufreq/cpuinfo_max_freq'))
    if (cur === undefined || max === undefined || max <= 0) continue
    const r = cur / max
    if (lowest === undefined || r < lowest) lowest = r
  }
  return lowest
}

/** `vcgencmd get_throttled` output ("throttled=0x50005") → the bits, or undefined. */
export function parseThrottled (text: string): number | undefined {
  const m = /throttled=(0x[0-9a-fA-F]+)/.exec(text)
  return m === null ? undefined : parseInt(m[1]!, 16)
}

// ---- memory, disk ----------------------------------------------------------------------------------

export function readMemory (root: string): DeviceSignals['memory'] {
  const info = readText(join(root, 'proc/meminfo'))
  if (info === undefined) return 'unknown'
  const total = /MemTotal:\s+(\d+)/.exec(info)
  const avail = /MemAvailable:\s+(\d+)/.exec(info)
  if (total === null || avail === null) return 'unknown'
  const m: { availableBytes: number, totalBytes: number, psiSomeAvg10?: number } = { availableBytes: Number(avail[1]) * 1024, totalBytes: Number(total[1]) * 1024 }
  const psi = readText(join(root, 'proc/pressure/memory'))
  const some = psi === undefined ? null : /^some\s+avg10=([\d.]+)/m.exec(psi)
  if (some !== null && some !== undefined) m.psiSomeAvg10 = Number(some[1])
  return m
}

export function readDisk (dir: string): DeviceSignals['disk'] {
  try {
    const s = statfsSync(dir)
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize }
  } catch { return 'unknown' }
}

// ---- CPU used outside the cluster --------------------------------------------------------------------

/** busy and total jiffies of the whole machine from /proc/stat, or undefined (Android 8+ denies it) */
export function readCpuJiffies (root: string): { busy: number, total: number } | undefined {
  const t = readText(join(root, 'proc/stat'))
  const line = t?.split('\n').find(l => l.startsWith('cpu '))
  if (line === undefined) return undefined
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  if (f.length < 4 || f.some(x => !Number.isFinite(x))) return undefined
  const idle = f[3]! + (f[4] ?? 0) // idle + iowait
  const total = f.reduce((a, b) => a + b, 0)
  return { busy: total - idle, total }
}

/** jiffies used by `pid` and every descendant, plus children it already reaped (cutime, cstime) */
export function readTreeJiffies (root: string, pid: number): number | undefined {
  return readTreeJiffiesByChildren(root, pid) ?? readTreeJiffiesByScan(root, pid)
}

/** utime + stime + cutime + cstime (fields 14..17) of one /proc/<pid>/stat text */
function statJiffies (text: string): { ppid: number, jiffies: number } {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { ppid: Number(rest[1]), jiffies: Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]) }
}

/** most processes walked in one tree: a node's executor children, not a fork bomb's */
const MAX_TREE_PROCESSES = 4096

/**
 * The tree walked through /proc/<pid>/task/<tid>/children (Linux 3.5+ with CONFIG_PROC_CHILDREN):
 * only this tree's processes are read, not every process on the device (a phone runs hundreds;
 * the scan read them all every 10 s, 1.8 ms here with ~150). Undefined when the kernel does not
 * offer the file, or `pid` is gone: the caller scans instead.
 */
function readTreeJiffiesByChildren (root: string, pid: number): number | undefined {
  const procDir = join(root, 'proc')
  const stack = [pid]
  const seen = new Set<number>()
  let sum = 0
  while (stack.length > 0 && seen.size < MAX_TREE_PROCESSES) {
    const p = stack.pop()!
    if (seen.has(p)) continue
    seen.add(p)
    const text = readText(join(procDir, String(p), 'stat'))
    const tids = text === undefined ? undefined : list(join(procDir, String(p), 'task'))
    if (text === undefined || tids === undefined) {
      if (p === pid) return undefined
      continue // exited while we looked: its time is in its parent's cutime once reaped
    }
    sum += statJiffies(text).jiffies
    for (const tid of tids) {
      const children = readText(join(procDir, String(p), 'task', tid, 'children'))
      if (children === undefined) {
        if (p === pid) return undefined // no CONFIG_PROC_CHILDREN
        continue
      }
      for (const c of children.split(' ')) if (/^\d+$/.test(c)) stack.push(Number(c))
    }
  }
  return sum
}

/** the same sum from every process's stat (kernels without the children file) */
function readTreeJiffiesByScan (root: string, pid: number): number | undefined {
  const procDir = join(root, 'proc')
  const names = list(procDir)
  if (names === undefined) return undefined
  const parent = new Map<number, number>()
  const used = new Map<number, number>()
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue
    const text = readText(join(procDir, name, 'stat'))
    if (text === undefined) continue
    const st = statJiffies(text)
    parent.set(Number(name), st.ppid)
    used.set(Number(name), st.jiffies)
  }
  if (!used.has(pid)) return undefined
  let sum = 0
  for (const [p, j] of used) {
    let q: number | undefined = p
    for (let depth = 0; depth < 64 && q !== undefined && q > 0; depth++) { // bound: process trees are shallow
      if (q === pid) { sum += j; break }
      q = parent.get(q)
    }
  }
  return sum
}

// ---- owner activity ----------------------------------------------------------------------------------

/** ms since the newest access to a terminal (BOINC's tty-atime fallback); unknown without any */
export function readOwnerIdleMs (root: string, now: number): Read<number> {
  let newest: number | undefined
  const consider = (path: string): void => {
    try { const a = statSync(path).atimeMs; if (newest === undefined || a > newest) newest = a } catch {}
  }
  for (const n of list(join(root, 'dev/pts')) ?? []) if (/^\d+$/.test(n)) consider(join(root, 'dev/pts', n))
  for (const n of list(join(root, 'dev/input')) ?? []) if (n.startsWith('event')) consider(join(root, 'dev/input', n))
  return newest === undefined ? 'unknown' : Math.max(0, now - newest)
}

// ---- the sampler -------------------------------------------------------------------------------------

/** One command, run in the background now and then; `last` is its latest answer (or undefined). */
class CommandProbe {
  last: string | undefined
  private running = false
  private missing = false
  private lastRun = -Infinity
  constructor (private readonly file: string, private readonly args: string[], private readonly timeoutMs: number, private readonly intervalMs: number) {}

  /** start a run if one is due; never waits for it */
  poll (now: number): void {
    if (this.running || this.missing || now - this.lastRun < this.intervalMs) return
    this.running = true
    this.lastRun = now
    execFile(this.file, this.args, { timeout: this.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 }, (err, stdout) => {
      this.running = false
      if (err !== null) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.missing = true // not on this device: stop asking
        this.last = undefined // a timeout or failure: the signal becomes unknown, not stale
        return
      }
      this.last = stdout
    })
  }

  /** resolves once the current run (if any) has ended; for tests */
  async settle (): Promise<void> {
    for (let i = 0; i < 1000 && this.running; i++) await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/**
 * Reads every signal once per `sample(now)` call. Keeps the little state that deltas need (CPU
 * jiffies) and the command probes. `sample` is synchronous and cheap; commands refresh in the background.
 */
export class SignalSampler {
  private readonly root: string
  private readonly dataDir: string
  private readonly termux?: CommandProbe
  private readonly vcgencmd: CommandProbe
  private lastCpu?: { busy: number, total: number, tree: number, at: number }
  private otherCpu: Read<number> = 'unknown'

  constructor (opts: SignalSourceOptions = {}) {
    this.root = opts.root ?? '/'
    this.dataDir = opts.dataDir ?? process.cwd()
    const bin = (name: string): string => opts.binDir === undefined ? name : join(opts.binDir, name)
    const timeout = opts.commandTimeoutMs ?? 3000
    const interval = opts.commandIntervalMs ?? 10_000
    if (opts.termux === true) this.termux = new CommandProbe(bin('termux-battery-status'), [], timeout, interval)
    this.vcgencmd = new CommandProbe(bin('vcgencmd'), ['get_throttled'], timeout, interval)
  }

  sample (now: number): DeviceSignals {
    this.termux?.poll(now)
    this.vcgencmd.poll(now)
    const freqRatio = readFreqRatio(this.root)
    const piBits = this.vcgencmd.last === undefined ? undefined : parseThrottled(this.vcgencmd.last)
    const throttle: DeviceSignals['throttle'] = freqRatio === undefined && piBits === undefined
      ? 'unknown'
      : { ...(freqRatio !== undefined ? { freqRatio } : {}), ...(piBits !== undefined ? { piBits } : {}) }
    return {
      at: now,
      battery: this.battery(),
      thermal: readThermal(this.root),
      throttle,
      memory: readMemory(this.root),
      disk: readDisk(this.dataDir),
      otherCpuPercent: this.sampleOtherCpu(now),
      ownerIdleMs: readOwnerIdleMs(this.root, now)
    }
  }

  /** let running commands finish (tests) */
  async settle (): Promise<void> { await Promise.all([this.termux?.settle(), this.vcgencmd.settle()]) }

  private battery (): DeviceSignals['battery'] {
    if (this.termux !== undefined) {
      const t = this.termux.last === undefined ? 'unknown' : parseTermuxBattery(this.termux.last)
      if (t !== 'unknown') return t
    }
    const s = readSysfsBattery(this.root)
    // on Termux a readable but empty power_supply does not mean "no battery": it is hidden
    return s === 'none' && this.termux !== undefined ? 'unknown' : s
  }

  /** CPU % of the device used outside this process tree, over windows of at least 10 s (BOINC's) */
  private sampleOtherCpu (now: number): Read<number> {
    if (this.lastCpu !== undefined && now - this.lastCpu.at < 10_000) return this.otherCpu
    const cpu = readCpuJiffies(this.root)
    const tree = cpu === undefined ? undefined : readTreeJiffies(this.root, process.pid)
    if (cpu === undefined || tree === undefined) { this.lastCpu = undefined; this.otherCpu = 'unknown'; return 'unknown' }
    const prev = this.lastCpu
    this.lastCpu = { ...cpu, tree, at: now }
    if (prev === undefined || cpu.total <= prev.total) return this.otherCpu
    const other = (cpu.busy - prev.busy) - (tree - prev.tree)
    this.otherCpu = Math.round(Math.min(100, Math.max(0, other * 100 / (cpu.total - prev.total))))
    return this.otherCpu
  }
}
