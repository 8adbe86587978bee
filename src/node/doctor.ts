// `retire-cluster doctor`: what this device can do, found the way the node finds it (the same
// probes: src/node/system/*), and what the node would put in its bid as a result. Read-only: it
// creates no cgroup, binds sockets only to release them at once, and writes nothing.

import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { accessSync, constants, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { detectSandboxSync, isTermux } from './system/sandbox.js'
import { sampleCapabilities, type DeviceCapabilities } from './system/sample.js'
import { readDisk, readMemory, readSysfsBattery, readThermal } from './system/signals.js'

export type CheckStatus = 'ok' | 'missing' | 'unknown'

export interface DoctorCheck {
  name: string
  status: CheckStatus
  /** what was found, in a line */
  detail: string
  /** what it changes in the bid or the node's behaviour */
  effect: string
}

export interface DoctorReport {
  checks: DoctorCheck[]
  /** the capabilities the node would advertise (its bid's static part) */
  advertise: DeviceCapabilities
}

export interface DoctorOptions {
  dataDir: string
  /** an API port the node is meant to use; checked for being free */
  apiPort?: number
  /** give up on the mDNS probe after this @default 1000 */
  mdnsTimeoutMs?: number
}

const MDNS_GROUP = '224.0.0.251'
const MDNS_PORT = 5353
const GB = 1024 ** 3

function check (name: string, ok: boolean | undefined, detail: string, effect: string): DoctorCheck {
  return { name, status: ok === undefined ? 'unknown' : ok ? 'ok' : 'missing', detail, effect }
}

/** The storage engine's native binding loads (it is built or downloaded at install time). */
function sqliteCheck (): DoctorCheck {
  try {
    const Database = createRequire(import.meta.url)('better-sqlite3') as new (p: string) => { close(): void }
    new Database(':memory:').close()
    return check('sqlite', true, 'better-sqlite3 native binding loads', 'the node can keep its Raft log and task history')
  } catch (err) {
    return check('sqlite', false, `better-sqlite3 does not load: ${(err as Error).message.split('\n')[0]}`,
      'the node cannot start: reinstall with install scripts allowed (README: Install)')
  }
}

/** Read-only cgroup probe: v1 cpu and memory hierarchies the node could create groups in. */
function cgroupCheck (): DoctorCheck {
  if (process.platform !== 'linux') return check('cgroups', false, `not Linux (${process.platform})`, 'tasks are capped by nice + rlimit + RSS watchdog only')
  const writable = (p: string): boolean => { try { accessSync(p, constants.W_OK); return true } catch { return false } }
  const v1 = ['cpu', 'memory'].filter(c => existsSync(`/sys/fs/cgroup/${c}`) && writable(`/sys/fs/cgroup/${c}`))
  if (v1.length > 0) return check('cgroups', true, `v1 ${v1.join(', ')} writable`, 'CPU share and memory limits enforced by the kernel per task')
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers')
  return check('cgroups', false, v2 ? 'cgroup v2 only (the node uses v1 hierarchies)' : 'no writable cgroup hierarchy (needs root)',
    'tasks are capped by nice + rlimit + RSS watchdog instead')
}

/** Can this process join the mDNS multicast group (what @libp2p/mdns needs to find peers)? */
async function mdnsCheck (timeoutMs: number): Promise<DoctorCheck> {
  const effect = (ok: boolean): string => ok ? 'peers on this LAN are found without --bootstrap' : 'use --bootstrap <multiaddr> to find the cluster'
  return await new Promise(resolve => {
    const sock = createSocket({ type: 'udp4', reuseAddr: true })
    const done = (ok: boolean | undefined, detail: string): void => {
      clearTimeout(timer)
      try { sock.close() } catch {}
      resolve(check('mdns', ok, detail, effect(ok === true)))
    }
    const timer = setTimeout(() => { done(undefined, `no answer from the socket within ${timeoutMs} ms`) }, timeoutMs)
    sock.once('error', err => { done(false, `udp ${MDNS_PORT}: ${err.message}`) })
    sock.bind(MDNS_PORT, () => {
      try {
        sock.addMembership(MDNS_GROUP)
        done(true, `joined ${MDNS_GROUP}:${MDNS_PORT}`)
      } catch (err) { done(false, `cannot join ${MDNS_GROUP}: ${(err as Error).message}`) }
    })
  })
}

async function tcpPortCheck (name: string, host: string, port: number, effect: string): Promise<DoctorCheck> {
  return await new Promise(resolve => {
    const srv = createServer()
    srv.once('error', err => { resolve(check(name, false, `${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, effect)) })
    srv.listen(port, host, () => {
      const got = (srv.address() as { port: number }).port
      srv.close(() => { resolve(check(name, true, port === 0 ? `can listen on ${host} (e.g. port ${got})` : `${host}:${port} is free`, effect)) })
    })
  })
}

function batteryCheck (): DoctorCheck {
  const b = readSysfsBattery('/')
  if (b === 'unknown') {
    return isTermux()
      ? check('battery', undefined, '/sys/class/power_supply hidden (Android); the node asks termux-battery-status', 'battery rules apply when Termux:API answers')
      : check('battery', undefined, '/sys/class/power_supply not readable', 'no battery in the bid; battery rules never cordon this device')
  }
  if (b === 'none') return check('battery', true, 'readable; no battery (mains-powered)', 'no battery in the bid')
  return check('battery', true, `${JSON.stringify(b)}`, 'battery level and charging state in the bid; low battery cordons the device')
}

function thermalCheck (): DoctorCheck {
  const t = readThermal('/')
  if (t === 'unknown') return check('thermal', undefined, 'no readable /sys/class/thermal zone', 'heat cannot cordon this device')
  return check('thermal', true, `hottest ${t.zone} ${t.hottestC.toFixed(1)} °C${t.passiveTripC !== undefined ? `, passive trip ${t.passiveTripC} °C` : ''}`, 'the device stops taking work when it runs hot')
}

function memoryCheck (): DoctorCheck {
  const m = readMemory('/')
  if (m === 'unknown') return check('memory', undefined, '/proc/meminfo not readable', 'memory taken from os.totalmem()/freemem()')
  return check('memory', true, `${(m.availableBytes / GB).toFixed(1)} of ${(m.totalBytes / GB).toFixed(1)} GB available${m.psiSomeAvg10 !== undefined ? `, PSI some avg10 ${m.psiSomeAvg10}` : ''}`, 'memory pressure can cordon the device')
}

function diskCheck (dataDir: string): DoctorCheck {
  let dir = dataDir
  while (!existsSync(dir) && dir !== '/') dir = dir.replace(/\/[^/]*$/, '') || '/'
  const d = readDisk(dir)
  if (d === 'unknown') return check('disk', undefined, `statfs(${dir}) failed`, 'storage reported as 0 GB')
  return check('disk', d.freeBytes > GB, `${(d.freeBytes / GB).toFixed(1)} GB free of ${(d.totalBytes / GB).toFixed(1)} GB at ${dir}`, 'storageGb in the bid (tasks with min_storage_gb)')
}

function nodeVersionCheck (): DoctorCheck {
  const major = Number(process.versions.node.split('.')[0])
  return check('node', major >= 20, `Node.js ${process.versions.node}`, major >= 20 ? 'supported' : 'needs Node.js 20 or later')
}

export async function runDoctor (opts: DoctorOptions): Promise<DoctorReport> {
  const sb = detectSandboxSync()
  const linux = process.platform === 'linux' || (process.platform as string) === 'android'
  const checks: DoctorCheck[] = [
    nodeVersionCheck(),
    sqliteCheck(),
    check('python3', sb.python3, sb.python3 ? (sb.python3Path ?? 'python3') : 'python3 not on PATH', sb.python3 ? 'runs python_script tasks' : 'python_script tasks go to other devices'),
    check('unshare', sb.unshare, sb.unshare ? 'unshare --net works' : linux ? 'unshare --net refused (needs root or user namespaces)' : 'not Linux',
      sb.unshare ? 'sandbox.network: tasks with allowNetwork=false may run here' : 'sandbox.network=false: network-isolated tasks go elsewhere'),
    check('prlimit', sb.prlimit, sb.prlimit ? 'prlimit --as works' : 'prlimit missing or refused', sb.prlimit ? 'sandbox.memory: address-space limits enforced' : 'sandbox.memory=false: memory limits only by the RSS watchdog'),
    check('priority', sb.cpu, sb.cpu ? 'setpriority works' : 'setpriority refused', sb.cpu ? 'sandbox.cpu: task processes run at lower priority' : 'sandbox.cpu=false'),
    cgroupCheck(),
    batteryCheck(),
    thermalCheck(),
    memoryCheck(),
    diskCheck(opts.dataDir),
    await mdnsCheck(opts.mdnsTimeoutMs ?? 1000),
    await tcpPortCheck('p2p port', '0.0.0.0', 0, 'other devices can connect to this node')
  ]
  if (opts.apiPort !== undefined && opts.apiPort !== 0) {
    checks.push(await tcpPortCheck('api port', '127.0.0.1', opts.apiPort, 'the HTTP API and dashboard can use this port'))
  }
  if (isTermux()) checks.push(check('termux', true, `Termux ${process.env.TERMUX_VERSION ?? ''}`.trim(), 'role defaults to mobile'))
  return { checks, advertise: sampleCapabilities({ dataDir: existsSync(opts.dataDir) ? opts.dataDir : undefined }) }
}

/** Human-readable report: one line per check, then the bid's static part. */
export function formatDoctor (r: DoctorReport): string {
  const mark: Record<CheckStatus, string> = { ok: 'ok', missing: '--', unknown: '??' }
  const w = Math.max(...r.checks.map(c => c.name.length))
  const lines = ['Checks (ok = available, -- = not available, ?? = could not tell):']
  for (const c of r.checks) lines.push(`  ${mark[c.status]}  ${c.name.padEnd(w)}  ${c.detail}\n      ${' '.repeat(w)}  -> ${c.effect}`)
  const a = r.advertise
  lines.push('', 'Would advertise:')
  lines.push(`  role ${a.role}, platform ${a.platform}/${a.arch}, ${a.cpuCores} cores, ${a.memoryGb} GB memory, ${a.storageGb} GB free storage, gpu ${a.gpu ? 'yes' : 'no'}`)
  lines.push(`  battery ${a.battery === undefined ? 'none' : `${a.battery.percent}%${a.battery.charging ? ' charging' : ''}`}, internet ${a.internet ? 'yes' : 'no (--internet to declare)'}`)
  lines.push(`  sandbox network=${a.sandbox.network} memory=${a.sandbox.memory} cpu=${a.sandbox.cpu} filesystem=${a.sandbox.filesystem}`)
  return lines.join('\n')
}
