// Options of startNode, with every default in one place and the reason for it.
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type { DeviceBid, DeviceRole, Permission } from '../sched/types.js'
import type { DevicePolicyConfig } from '../sched/device-policy.js'
import type { ClusterSettingsPatch, RateLimitRule } from '../sched/commands.js'
import type { ReliabilityConfig } from '../sched/reliability.js'
import type { PreemptionConfig } from '../sched/preemption.js'

export interface NodeOptions {
  /** where the node keeps its peer key, Raft log, history and API token. @default ~/.retire-cluster */
  dataDir?: string
  /** @default ['/ip4/0.0.0.0/tcp/0'] */
  listen?: string[]
  /** multiaddrs (with /p2p/<id>) of nodes of an existing cluster. @default [] */
  bootstrap?: string[]
  /** LAN discovery. @default true */
  mdns?: boolean
  /**
   * Raft, client and exec traffic between members over TCP sockets of their own (keys handed over
   * through libp2p), not libp2p streams: about a third less time per hop. @default true
   */
  directLinks?: boolean
  /** @default 'mobile' on Android (Termux), else 'compute' */
  role?: DeviceRole
  /** swarm key file bytes (libp2p pnet). Without it: an open LAN cluster, demos only. */
  clusterKey?: Uint8Array
  /** name used in the gossip topic; nodes with other names ignore each other's bids. @default 'default' */
  clusterName?: string
  /** a fresh cluster forms once this many fresh nodes see each other. @default 1 */
  bootstrapExpect?: number
  /** how many voters the leader keeps (odd numbers are best). @default 5 */
  voters?: number
  /** permissions this node grants to tasks. @default ['read_files', 'write_files'] */
  grant?: Permission[]
  /** paths file tasks may touch. @default [<dataDir>/files] */
  allowedPaths?: string[]
  /** handler modules to load (default export: instance, class or array) */
  handlers?: Array<string | unknown>
  /** HTTP API; false to disable. @default { host: '127.0.0.1', port: 0 } */
  api?: { host?: string, port?: number } | false
  /** @default number of cores, at least 2 */
  maxConcurrentTasks?: number
  /** no bid and no ping for this long → the device is declared down. @default 3000 */
  deviceTimeoutMs?: number
  /** @default hostname */
  name?: string
  /** sensors this device offers (Termux fills these when present). @default [] */
  sensors?: string[]
  /** Raft tick; election timeout is electionTicks × tickMs, randomized ×[1,2). @default 100 */
  tickMs?: number
  /** @default 10 → 1–2 s election timeout: quick failover, still above LAN jitter */
  electionTicks?: number
  /** a voter dead this long is removed (one change at a time). @default 30000 */
  deadVoterTimeoutMs?: number
  /** log lines; 'silent' for tests. @default 'info' */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent'
  /** snapshot the state machine every this many applied entries, once they hold at least half the
   * last snapshot's size (a large state is not re-encoded for a few small entries). @default 10000 */
  snapshotEntries?: number
  /**
   * ... or once the entries applied since the last snapshot hold this many bytes — or twice the last
   * snapshot's size, if that is more — whichever comes first: raft.db stays about this size (or
   * twice the state's) plus a snapshot however busy the log. 32 MiB is a few seconds of a full-speed
   * batch load and a small file on any device; a state larger than half of it (retention keeps up to
   * 100,000 tasks, ~40-50 MB) is not re-encoded more often than its size in log comes.
   * @default 33554432 (32 MiB)
   */
  snapshotLogBytes?: number
  /** how long a write (submit, cancel) keeps retrying through elections before failing. @default 30000 */
  writeDeadlineMs?: number
  /**
   * Replaces the OS load sample in this node's bids. For simulating heterogeneous devices on one
   * machine (tests, scripts/simulate); real nodes leave it unset.
   */
  loadSampler?: () => { cpuUsage: number, memoryUsage: number, memoryUsedGb: number }
  /**
   * Declared capabilities that replace the probed ones in this node's bids: a GPU the probe cannot
   * see (it only looks for /dev/dri, /dev/nvidia0, /dev/kgsl-3d0), or simulated devices in tests.
   */
  capabilities?: Partial<Pick<DeviceBid, 'gpu' | 'cpuCores' | 'memoryGb' | 'storageGb' | 'internet' | 'bandwidthMbps' | 'sensors'>>
  /**
   * Device policy settings over the defaults (docs/devices.md), e.g. { cordonOnBattery: false };
   * false turns the automatic policy off (a manual drain still works). Read also from
   * <dataDir>/device-policy.json when present (these options win). @default {}
   */
  devicePolicy?: Partial<DevicePolicyConfig> | false
  /** directory standing for '/' when reading /sys, /proc and /dev (tests: a fixture tree). @default '/' */
  signalRoot?: string
  /** where termux-battery-status and vcgencmd are run from; unset = PATH (tests: a fixture's bin/) */
  signalBinDir?: string
  /**
   * Cluster setting, proposed when this node leads: finished tasks leave the replicated state this
   * long after they end (a task's result_ttl_seconds wins); then lookups answer 410. Unset leaves the
   * cluster's setting as it is. @default the cluster's (24 h unless set)
   */
  retentionMs?: number
  /** Cluster setting, proposed when this node leads: ready-queue capacity (queue_full beyond). @default the cluster's (100000 unless set) */
  maxQueueSize?: number
  /** Cluster setting, proposed when this node leads: rate limits per task type / principal. @default the cluster's (none unless set) */
  rateLimits?: RateLimitRule[]
  /**
   * Cluster setting, proposed when this node leads: reliability, quarantine and poisoned-task
   * tuning (src/sched/reliability.ts, e.g. { quarantineBaseMs: 600000 }); fields not given keep the
   * defaults. @default the cluster's (DEFAULT_RELIABILITY unless set)
   */
  reliability?: Partial<ReliabilityConfig>
  /** Cluster setting, proposed when this node leads: preemption (src/sched/preemption.ts, e.g. { enabled: false }). @default the cluster's */
  preemption?: Partial<PreemptionConfig>
  /**
   * history.db keeps finished attempts this long for getTaskMetrics (pruned once a minute). A day and
   * an hour: the default 24 h metrics window always has all its rows. @default 25 h
   */
  historyRetentionMs?: number
}

/** The cluster settings a node's options ask for (undefined: none given). */
export function settingsOf (o: Pick<NodeOptions, 'retentionMs' | 'maxQueueSize' | 'rateLimits' | 'reliability' | 'preemption'>): ClusterSettingsPatch | undefined {
  const p: ClusterSettingsPatch = {}
  if (o.retentionMs !== undefined) p.retentionMs = o.retentionMs
  if (o.maxQueueSize !== undefined) p.maxQueueSize = o.maxQueueSize
  if (o.rateLimits !== undefined) p.rateLimits = o.rateLimits
  if (o.reliability !== undefined) p.reliability = o.reliability
  if (o.preemption !== undefined) p.preemption = o.preemption
  return Object.keys(p).length === 0 ? undefined : p
}

export type ResolvedOptions = Required<Omit<NodeOptions, 'clusterKey' | 'api' | 'loadSampler' | 'capabilities' | 'role' | 'devicePolicy' | 'signalRoot' | 'signalBinDir' | 'retentionMs' | 'maxQueueSize' | 'rateLimits' | 'reliability' | 'preemption'>> & {
  reliability?: Partial<ReliabilityConfig>
  preemption?: Partial<PreemptionConfig>
  retentionMs?: number
  maxQueueSize?: number
  rateLimits?: RateLimitRule[]
  devicePolicy?: NodeOptions['devicePolicy']
  signalRoot?: string
  signalBinDir?: string
  role?: DeviceRole
  clusterKey?: Uint8Array
  loadSampler?: NodeOptions['loadSampler']
  capabilities?: NodeOptions['capabilities']
  api: { host: string, port: number } | false
}

export function resolveOptions (o: NodeOptions, cores: number, hostname: string): ResolvedOptions {
  const dataDir = resolve(o.dataDir ?? join(homedir(), '.retire-cluster'))
  return {
    dataDir,
    listen: o.listen ?? ['/ip4/0.0.0.0/tcp/0'],
    bootstrap: o.bootstrap ?? [],
    mdns: o.mdns ?? true,
    directLinks: o.directLinks ?? true,
    role: o.role,
    clusterKey: o.clusterKey,
    clusterName: o.clusterName ?? 'default',
    bootstrapExpect: Math.max(1, o.bootstrapExpect ?? 1),
    voters: Math.max(1, o.voters ?? 5),
    grant: o.grant ?? ['read_files', 'write_files'],
    allowedPaths: (o.allowedPaths ?? [join(dataDir, 'files')]).map(p => resolve(p)),
    handlers: o.handlers ?? [],
    api: o.api === false ? false : { host: o.api?.host ?? '127.0.0.1', port: o.api?.port ?? 0 },
    maxConcurrentTasks: Math.max(1, o.maxConcurrentTasks ?? Math.max(2, cores)),
    deviceTimeoutMs: o.deviceTimeoutMs ?? 3000,
    name: o.name ?? hostname,
    sensors: o.sensors ?? [],
    tickMs: o.tickMs ?? 100,
    electionTicks: o.electionTicks ?? 10,
    deadVoterTimeoutMs: o.deadVoterTimeoutMs ?? 30000,
    logLevel: o.logLevel ?? 'info',
    snapshotEntries: o.snapshotEntries ?? 10000,
    snapshotLogBytes: o.snapshotLogBytes ?? 32 * 1024 * 1024,
    writeDeadlineMs: o.writeDeadlineMs ?? 30000,
    loadSampler: o.loadSampler,
    capabilities: o.capabilities,
    devicePolicy: o.devicePolicy,
    signalRoot: o.signalRoot,
    signalBinDir: o.signalBinDir,
    retentionMs: o.retentionMs,
    maxQueueSize: o.maxQueueSize,
    rateLimits: o.rateLimits,
    reliability: o.reliability,
    preemption: o.preemption,
    historyRetentionMs: o.historyRetentionMs ?? 25 * 3_600_000
  }
}
