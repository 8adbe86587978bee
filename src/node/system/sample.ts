// The device's capabilities and current load, as the node gossips them in its bid. Reads the OS;
// never throws (a phone may hide /proc files or /sys entries: missing facts get safe defaults).

import { arch, cpus, freemem, totalmem, availableParallelism } from 'node:os'
import { readFileSync, readdirSync, statfsSync, existsSync } from 'node:fs'
import type { DeviceBid, DeviceRole, Platform } from '../../sched/types.js'
import { detectSandbox, detectSandboxSync, isTermux } from './sandbox.js'

export { detectSandbox, detectSandboxSync }

export type DeviceCapabilities = Pick<DeviceBid, 'role' | 'platform' | 'arch' | 'cpuCores' | 'memoryGb' |
'storageGb' | 'gpu' | 'sensors' | 'battery' | 'internet' | 'bandwidthMbps' | 'sandbox'>

export interface CapabilityOptions {
  role?: DeviceRole
  /** directory whose filesystem's free space is reported (the node's data dir) */
  dataDir?: string
  /** the operator knows better than we can measure */
  internet?: boolean
  bandwidthMbps?: number
  sensors?: string[]
}

const GB = 1024 ** 3
const round2 = (x: number): number => Math.round(x * 100) / 100

export function detectPlatform (): Platform {
  if ((process.platform as string) === 'android' || isTermux()) return 'android'
  if (process.platform === 'win32') return 'windows'
  if (process.platform === 'darwin') return 'macos'
  return 'linux'
}

export function sampleCapabilities (opts: CapabilityOptions = {}): DeviceCapabilities {
  const platform = detectPlatform()
  const battery = readBattery()
  return {
    role: opts.role ?? (platform === 'android' ? 'mobile' : 'compute'),
    platform,
    arch: arch(),
    cpuCores: safe(() => availableParallelism(), () => Math.max(1, cpus().length)),
    memoryGb: round2(totalmem() / GB),
    storageGb: freeStorageGb(opts.dataDir ?? process.cwd()),
    gpu: safe(() => existsSync('/dev/dri') || existsSync('/dev/nvidia0') || existsSync('/dev/kgsl-3d0'), () => false),
    sensors: opts.sensors ?? [],
    ...(battery !== undefined ? { battery } : {}),
    internet: opts.internet ?? false,
    bandwidthMbps: opts.bandwidthMbps ?? 0,
    sandbox: (({ network, memory, cpu, filesystem }) => ({ network, memory, cpu, filesystem }))(detectSandboxSync())
  }
}

let lastCpu: { busy: number, total: number } | undefined

function cpuTimes (): { busy: number, total: number } {
  let busy = 0
  let total = 0
  for (const c of cpus()) {
    const t = c.times
    const all = t.user + t.nice + t.sys + t.idle + t.irq
    total += all
    busy += all - t.idle
  }
  return { busy, total }
}

/**
 * A load sample is reused for this long: the bid gossip builds a bid on every change of the
 * worker's activity to see whether it is worth publishing, which under load was many os.cpus() and
 * /proc/meminfo reads a second (issue 12: 1.6 % of a node's CPU in batches) for a CPU % over a
 * window of a few ms, which is noise anyway.
 */
const LOAD_SAMPLE_REUSE_MS = 250
let lastLoad: { at: number, value: { cpuUsage: number, memoryUsage: number, memoryUsedGb: number } } | undefined

/** CPU % since the previous sample (first: since boot), memory use now; at most one sample per LOAD_SAMPLE_REUSE_MS. */
export function sampleLoad (): { cpuUsage: number, memoryUsage: number, memoryUsedGb: number } {
  const at = performance.now()
  if (lastLoad !== undefined && at - lastLoad.at < LOAD_SAMPLE_REUSE_MS) return lastLoad.value
  lastLoad = { at, value: sampleLoadNow() }
  return lastLoad.value
}

function sampleLoadNow (): { cpuUsage: number, memoryUsage: number, memoryUsedGb: number } {
  const now = cpuTimes()
  const prev = lastCpu ?? { busy: 0, total: 0 }
  lastCpu = now
  const dTotal = now.total - prev.total
  const cpuUsage = dTotal > 0 ? Math.min(100, Math.max(0, (now.busy - prev.busy) * 100 / dTotal)) : 0
  const total = totalmem()
  const available = memAvailable() ?? freemem()
  const used = Math.max(0, total - available)
  return { cpuUsage: round2(cpuUsage), memoryUsage: round2(used * 100 / total), memoryUsedGb: round2(used / GB) }
}

/** MemAvailable counts reclaimable cache, which freemem() does not: closer to what a task can get */
function memAvailable (): number | undefined {
  try {
    const m = /MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'latin1'))
    return m !== null ? Number(m[1]) * 1024 : undefined
  } catch { return undefined }
}

function freeStorageGb (dir: string): number {
  try {
    const s = statfsSync(dir)
    return round2(s.bavail * s.bsize / GB)
  } catch { return 0 }
}

/** Linux / Android sysfs battery; undefined on machines without one (or that hide it). */
function readBattery (): { percent: number, charging: boolean } | undefined {
  const base = '/sys/class/power_supply'
  try {
    for (const name of readdirSync(base)) {
      const dir = `${base}/${name}`
      let type = ''
      try { type = readFileSync(`${dir}/type`, 'latin1').trim() } catch { continue }
      if (type !== 'Battery') continue
      const percent = Number(readFileSync(`${dir}/capacity`, 'latin1').trim())
      const status = readFileSync(`${dir}/status`, 'latin1').trim()
      if (!Number.isFinite(percent)) continue
      return { percent, charging: status === 'Charging' || status === 'Full' }
    }
  } catch {}
  return undefined
}

function safe<T> (fn: () => T, fallback: () => T): T {
  try { return fn() } catch { return fallback() }
}
