// `retire-cluster start [...]`: runs a node in this process until SIGINT/SIGTERM. The node itself
// writes <data-dir>/node.json and api-token; this command only turns flags into startNode options.

import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Command, Option } from 'commander'
import type { NodeOptions } from '../../config.js'
import type { DeviceRole, Permission } from '../../../sched/types.js'
import { defaultDataDir } from '../context.js'
import { CliError, UsageError } from '../errors.js'
import { MSG } from '../messages.js'
import { json, type CliIo } from '../io.js'
import { intOpt, listOpt, collect, choiceOpt, durationOpt, rateLimitOpt, ROLES, PERMISSIONS } from '../parse.js'
import { probeSandbox } from '../../system/sandbox.js'
import { devicePolicyProblem } from '../../../sched/device-policy.js'

interface Flags {
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  mdns: boolean
  directLinks: boolean
  role?: DeviceRole
  clusterKey?: string
  clusterName?: string
  bootstrapExpect?: number
  voters?: number
  grant?: string[]
  allowedPaths?: string[]
  handlers?: string[]
  api: boolean
  apiHost?: string
  apiPort?: number
  maxConcurrent?: number
  deviceTimeoutMs?: number
  snapshotEntries?: number
  name?: string
  logLevel?: NodeOptions['logLevel']
  json?: boolean
  sensors?: string[]
  internet?: boolean
  bandwidthMbps?: number
  gpu?: boolean
  retention?: number
  maxQueue?: number
  rateLimit?: NonNullable<NodeOptions['rateLimits']>
  historyRetention?: number
  devicePolicy?: string | false
  signalRoot?: string
  preemption: boolean
  quarantine: boolean
}

/** on SIGTERM/SIGINT running tasks get this long to be handed off before the node stops */
const SIGNAL_DRAIN_DEADLINE_MS = 10_000

export function startCommand (io: CliIo): Command {
  return new Command('start')
    .description(MSG.startDesc)
    .option('--data-dir <dir>', 'where the node keeps its state (default ~/.retire-cluster)')
    .option('--listen <multiaddr>', 'listen address, repeatable (default /ip4/0.0.0.0/tcp/0)', collect)
    .option('--bootstrap <multiaddr>', 'address (with /p2p/<id>) of a cluster node, repeatable', collect)
    .option('--no-mdns', 'no LAN discovery')
    .option('--no-direct-links', 'carry all traffic between members over libp2p streams (no direct TCP links)')
    .addOption(new Option('--role <role>', 'compute, mobile or storage').argParser(choiceOpt('--role', ROLES)))
    .option('--cluster-key <file>', 'cluster key file (see `retire-cluster key generate`)')
    .option('--cluster-name <name>', 'cluster name (nodes with other names ignore each other)')
    .option('--bootstrap-expect <n>', 'form a fresh cluster once this many nodes see each other (default 1)', intOpt('--bootstrap-expect', 1))
    .option('--voters <n>', 'how many Raft voters the leader keeps (default 5)', intOpt('--voters', 1))
    .option('--grant <perms>', `the whole set of permissions granted to tasks: ${PERMISSIONS.join(',')} (default read_files,write_files)`, listOpt)
    .option('--allowed-paths <dirs>', 'directories file tasks may touch, comma separated (default <data-dir>/files)', listOpt)
    .option('--handlers <module>', 'module whose default export is a handler (instance, class or array), repeatable', collect)
    .option('--no-api', 'do not serve the HTTP API and dashboard')
    .option('--api-host <host>', 'API bind address (default 127.0.0.1; elsewhere the dashboard needs the token)')
    .option('--api-port <n>', 'API port, 0 = any free port (default 0)', intOpt('--api-port', 0))
    .option('--max-concurrent <n>', 'tasks this device runs at once (default: cores, at least 2)', intOpt('--max-concurrent', 1))
    .option('--device-timeout-ms <n>', 'declare a silent device down after this long (default 3000)', intOpt('--device-timeout-ms', 100))
    .option('--snapshot-entries <n>', 'snapshot the replicated state every this many log entries (default 10000; or 32 MiB of log)', intOpt('--snapshot-entries', 2))
    .option('--name <name>', 'device name (default: host name)')
    .option('--sensors <list>', 'sensors this device offers to tasks, comma separated (e.g. gps,camera)', listOpt)
    .option('--internet', 'this device reaches the internet (tasks with requires_internet may run here)')
    .option('--bandwidth-mbps <n>', 'this device\'s bandwidth, for tasks with bandwidth_mbps', intOpt('--bandwidth-mbps', 0))
    .option('--gpu', 'this device has a GPU the probe cannot see')
    .option('--retention <duration>', 'cluster setting: keep finished tasks this long (e.g. 24h, 60s), then evict them (lookups answer 410)', durationOpt('--retention'))
    .option('--max-queue <n>', 'cluster setting: most tasks waiting in the queue; submissions beyond are refused with queue_full (default 100000)', intOpt('--max-queue', 1))
    .option('--rate-limit <rule>', 'cluster setting: [type:|principal:]NAME=N/UNIT, e.g. echo=10/s or principal:alice=100/min; repeatable', rateLimitOpt)
    .option('--history-retention <duration>', 'keep metrics history (history.db) this long (default 25h)', durationOpt('--history-retention'))
    .option('--device-policy <file>', 'device policy (battery, heat, owner activity thresholds) as JSON; default <data-dir>/device-policy.json, see docs/devices.md')
    .option('--no-device-policy', 'never cordon or drain this device on its own signals')
    .option('--signal-root <dir>', 'read battery, thermal and /proc signals under this directory instead of / (a fixture tree, a chroot)')
    .option('--no-preemption', 'cluster setting: URGENT/HIGH work never preempts LOW/BACKGROUND work')
    .option('--no-quarantine', 'cluster setting: never quarantine a device that fails distinct tasks (reliability still weighs placement)')
    .addOption(new Option('--log-level <level>', 'debug, info, warn, error, silent').choices(['debug', 'info', 'warn', 'error', 'silent']))
    .option('--json', 'print the started node as JSON')
    .action(async (flags: Flags) => {
      const options = await toNodeOptions(flags)
      if (options.clusterKey === undefined) io.err(MSG.noClusterKey)
      // The sandbox probe's child processes run while libp2p loads, not after (start-up time, issue 17).
      const probing = probeSandbox()
      // Imported here so client commands do not load libp2p.
      const { startNode } = await import('../../node.js')
      await probing
      const node = await startNode(options).catch((err: unknown) => {
        // better-sqlite3 installed without its install script (npm 11 asks for approval): say what to do
        if (/bindings file|better_sqlite3\.node|NODE_MODULE_VERSION/.test((err as Error)?.message ?? '')) throw new CliError(MSG.errSqliteBinding)
        throw err
      })
      const info = { id: node.id, name: node.name, dataDir: node.dataDir, apiUrl: node.apiUrl(), multiaddrs: node.multiaddrs() }
      if (flags.json === true) io.out(json(info))
      else {
        io.out(MSG.started(node.id, node.name))
        if (info.apiUrl !== undefined) io.out(MSG.startedApi(info.apiUrl))
        io.out(MSG.startedAddrs(info.multiaddrs))
        io.out(MSG.startedDataDir(node.dataDir))
      }
      await untilSignal(io)
      // hand running work off first (short deadline), then stop (a leader also hands leadership over)
      await node.drain({ deadlineMs: SIGNAL_DRAIN_DEADLINE_MS, reason: 'stopping', wait: true }).catch(() => {})
      await node.stop()
      io.err(MSG.stopped)
    })
}

export async function toNodeOptions (f: Flags): Promise<NodeOptions> {
  const grant = f.grant?.map(p => {
    if (!(PERMISSIONS as readonly string[]).includes(p)) throw new UsageError(`--grant: unknown permission "${p}", ${MSG.errChoice('--grant', p, PERMISSIONS)}`)
    return p as Permission
  })
  let clusterKey: Uint8Array | undefined
  if (f.clusterKey !== undefined) {
    try {
      clusterKey = await readFile(f.clusterKey)
    } catch (err) {
      throw new UsageError(MSG.errReadFile(f.clusterKey, (err as Error).message))
    }
  }
  const o: NodeOptions = {
    dataDir: resolve(f.dataDir ?? defaultDataDir()),
    mdns: f.mdns,
    directLinks: f.directLinks,
    api: f.api ? { host: f.apiHost ?? '127.0.0.1', port: f.apiPort ?? 0 } : false
  }
  if (f.listen !== undefined) o.listen = f.listen
  if (f.bootstrap !== undefined) o.bootstrap = f.bootstrap
  if (f.role !== undefined) o.role = f.role
  if (clusterKey !== undefined) o.clusterKey = clusterKey
  if (f.clusterName !== undefined) o.clusterName = f.clusterName
  if (f.bootstrapExpect !== undefined) o.bootstrapExpect = f.bootstrapExpect
  if (f.voters !== undefined) o.voters = f.voters
  if (grant !== undefined) o.grant = grant
  if (f.allowedPaths !== undefined) o.allowedPaths = f.allowedPaths.map(p => resolve(p))
  if (f.handlers !== undefined) o.handlers = f.handlers.map(h => /^[./\\]|\.[cm]?[jt]s$/.test(h) ? resolve(h) : h)
  if (f.maxConcurrent !== undefined) o.maxConcurrentTasks = f.maxConcurrent
  if (f.deviceTimeoutMs !== undefined) o.deviceTimeoutMs = f.deviceTimeoutMs
  if (f.snapshotEntries !== undefined) o.snapshotEntries = f.snapshotEntries
  if (f.name !== undefined) o.name = f.name
  if (f.logLevel !== undefined) o.logLevel = f.logLevel
  if (f.sensors !== undefined) o.sensors = f.sensors
  if (f.retention !== undefined) o.retentionMs = f.retention
  if (f.maxQueue !== undefined) o.maxQueueSize = f.maxQueue
  if (f.rateLimit !== undefined) o.rateLimits = f.rateLimit
  if (f.historyRetention !== undefined) o.historyRetentionMs = f.historyRetention
  if (f.devicePolicy === false) o.devicePolicy = false
  else if (f.devicePolicy !== undefined) o.devicePolicy = await readDevicePolicy(f.devicePolicy)
  if (f.signalRoot !== undefined) o.signalRoot = resolve(f.signalRoot)
  // only what the operator turned off: a node without the flag proposes nothing (the cluster's setting stays)
  if (f.preemption === false) o.preemption = { enabled: false }
  if (f.quarantine === false) o.reliability = { quarantineFailures: 0 }
  const caps: NonNullable<NodeOptions['capabilities']> = {}
  if (f.internet === true) caps.internet = true
  if (f.bandwidthMbps !== undefined) caps.bandwidthMbps = f.bandwidthMbps
  if (f.gpu === true) caps.gpu = true
  if (f.sensors !== undefined) caps.sensors = f.sensors
  if (Object.keys(caps).length > 0) o.capabilities = caps
  return o
}

async function readDevicePolicy (file: string): Promise<NonNullable<Exclude<NodeOptions['devicePolicy'], false>>> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    throw new UsageError(MSG.errReadFile(file, (err as Error).message))
  }
  const problem = devicePolicyProblem(parsed)
  if (problem !== undefined) throw new UsageError(`--device-policy ${file}: ${problem}`)
  return parsed as NonNullable<Exclude<NodeOptions['devicePolicy'], false>>
}

function untilSignal (io: CliIo): Promise<void> {
  return new Promise(resolve => {
    const onSignal = (signal: string): void => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      io.err(MSG.stopping(signal))
      resolve()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
