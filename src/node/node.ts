// startNode: the composition root. It wires the libp2p host, the Raft driver over sqlite, the
// cluster state machine, the leader loop, the worker and executor, the gossip of bids, the client
// and exec protocols and the HTTP API into one ClusterNode. Each piece lives in its own module; this
// file only connects them and owns their start/stop order.
import './polyfills.js'
import { mkdirSync, writeFileSync, readFileSync, existsSync, renameSync, statfsSync } from 'node:fs'
import { randomBytes, randomInt } from 'node:crypto'
import { cpus, hostname } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { resolveOptions, settingsOf, type NodeOptions, type ResolvedOptions } from './config.js'
import { createLogger, type Logger } from './log.js'
import { createHost, type Host } from './host/host.js'
import { FramedChannel } from './transport/framed.js'
import { BidGossip, type BidFields } from './gossip/bids.js'
import { SqliteStorage } from './raft/sqlite-storage.js'
import { RaftDriver } from './raft/driver.js'
import { ClusterCore } from './cluster/core.js'
import { decideBootstrap } from './cluster/bootstrap.js'
import { nextMembershipChange } from './cluster/autopilot.js'
import { LeaderLoop } from './leader/leader.js'
import { Worker } from './worker/worker.js'
import { ExecService, type ProgressEvent } from './cluster/exec-service.js'
import { TaskExecutor } from './executor/executor.js'
import { TaskRegistry, loadHandlerModules } from './handlers/registry.js'
import { sampleCapabilities, sampleLoad, type DeviceCapabilities } from './system/sample.js'
import { probeSandbox } from './system/sandbox.js'
import { IdleGc } from './system/idle-gc.js'
import { realScheduler } from './scheduler.js'
import { DeviceMonitor } from './system/monitor.js'
import { HandoffController } from './leader/handoff.js'
import { devicePolicyProblem, type DevicePolicyConfig } from '../sched/device-policy.js'
import { NodeScheduler } from './client/scheduler.js'
import { handleClientRequest, makeLeaderRequest } from './client/service.js'
import { TaskHistory } from './client/history.js'
import { setDefaultScheduler } from './client/groups.js'
import { startApiServer, type ApiServer } from './api/index.js'
import type { ClusterNode, DrainStatus, NodeInfo, RaftStatus } from './api-types.js'
import { encode, decode } from '../protocol/codec.js'
import { RAFT_MESSAGES } from '../protocol/messages.js'
import { EXEC_BATCH_MESSAGES } from '../protocol/exec-batch.js'
import { MAX_RAFT_FRAME_BYTES } from '../protocol/limits.js'
import { CLIENT_PROTOCOL, EXEC_PROTOCOL, RAFT_PROTOCOL } from '../protocol/ids.js'
import type { Message } from '../protocol/raft/types.js'
import './task-ids.js'
import type { ClusterEvent } from '../sched/commands.js'
import type { DeviceBid } from '../sched/types.js'
import { TRACE_ON, traceMark } from './trace.js'

export type { NodeOptions } from './config.js'

/** how long a fresh node that knows of other nodes listens for an existing cluster before forming one */
const BOOTSTRAP_SETTLE_MS = 2500
/**
 * how long a fresh node that knows of no other node listens first, with mDNS on: an existing node
 * on the LAN answers our start-up query within tens of ms (a phone in Wi-Fi power save within a few
 * hundred); any answer switches to the full BOOTSTRAP_SETTLE_MS
 */
const BOOTSTRAP_QUIET_MDNS_MS = 500
/** how often the fresh node re-reads what it has seen while it listens */
const BOOTSTRAP_POLL_MS = 50
const AUTOPILOT_INTERVAL_MS = 1000
/** how often a node measures its round trip to the leader (the 10 % latency part of the score) */
const LEADER_PING_INTERVAL_MS = 2000
/** device signals are sampled this often (the policy's 3-sample rule makes that 3 s to cordon) */
const DEVICE_SAMPLE_INTERVAL_MS = 1000
/** the leader looks at draining devices' tasks this often */
const HANDOFF_INTERVAL_MS = 250
/** default deadline of `drain` (Nomad's is 1 h; a phone's owner will not wait that long) */
const DRAIN_DEADLINE_MS = 120_000

/** after the Raft log's storage failed (full disk): how often to look for room, and how much is enough */
const STORAGE_RETRY_MS = 2000
const STORAGE_RESUME_FREE_MB = 8
const cryptoRng = (): number => randomInt(0, 2 ** 32) / 2 ** 32

export type { ProgressEvent } from './cluster/exec-service.js'

export async function startNode (options: NodeOptions = {}): Promise<ClusterNode> {
  const opts = resolveOptions(options, cpus().length, hostname())
  mkdirSync(opts.dataDir, { recursive: true })
  for (const p of opts.allowedPaths) mkdirSync(p, { recursive: true })
  const log = createLogger(opts.name, opts.logLevel)
  await probeSandbox() // child processes, without blocking the event loop (the CLI starts it earlier)
  const node = new RetireNode(opts, log)
  try {
    await node.start()
  } catch (err) {
    await node.stop().catch(() => {})
    throw err
  }
  return node
}

class RetireNode implements ClusterNode {
  readonly dataDir: string
  readonly name: string
  id = ''
  scheduler!: NodeScheduler
  registry: TaskRegistry
  private host!: Host
  private storage!: SqliteStorage
  private driver?: RaftDriver
  private readonly core: ClusterCore
  private leader!: LeaderLoop
  private worker!: Worker
  private executor!: TaskExecutor
  private gossip!: BidGossip
  private raftCh!: FramedChannel
  private clientCh!: FramedChannel
  private execCh!: FramedChannel
  private history!: TaskHistory
  private api?: ApiServer
  private token = ''
  private incarnation = 0
  private caps!: DeviceCapabilities
  private member = false
  private exec!: ExecService
  private readonly dialing = new Set<string>()
  /** round-trip time to the leader (moving average of pings), reported in bids for scoring */
  private latencyMs = 0
  private pingNonce = 0
  private readonly progressListeners = new Set<(e: ProgressEvent) => void>()
  private readonly timers: Array<ReturnType<typeof setInterval>> = []
  private idleGc?: IdleGc
  private stopping = false
  /** why this node left Raft (its log's storage refused a write), until it rejoins */
  private storageDown?: string
  /** peers libp2p discovered (mDNS); read by bootstrap() */
  private peersDiscovered = 0
  private monitor!: DeviceMonitor
  private handoff!: HandoffController

  constructor (private readonly opts: ResolvedOptions, private readonly log: Logger) {
    this.dataDir = opts.dataDir
    this.name = opts.name
    this.core = new ClusterCore(log.child('state'))
    this.registry = new TaskRegistry()
  }

  /**
   * The composition root: each step creates the components of one layer, in dependency order;
   * stop() takes them down in reverse. Behaviour lives in the components, not here.
   */
  async start (): Promise<void> {
    await this.openLocalState()
    await this.startHost()
    this.createClusterServices()
    await this.startChannels()
    this.createScheduler()
    await this.startApi()
    if (this.hasRaftState()) this.startRaft()
    else void this.bootstrap()
  }

  /** this device: Raft storage and incarnation, task handlers and the executor, capabilities and the device monitor */
  private async openLocalState (): Promise<void> {
    const o = this.opts
    this.storage = new SqliteStorage(join(o.dataDir, 'raft.db'), { deferredSync: true })
    this.incarnation = Number(this.storage.getMeta('incarnation') ?? '0') + 1
    this.storage.setMeta('incarnation', String(this.incarnation))

    await loadHandlerModules(o.handlers as string[], this.registry)
    this.executor = new TaskExecutor({
      maxConcurrentTasks: o.maxConcurrentTasks,
      registry: this.registry,
      node: { grants: o.grant, allowedPaths: o.allowedPaths },
      logLevel: o.logLevel,
      logger: (level, msg) => { (this.log as any)[level === 'debug' || level === 'warn' || level === 'error' ? level : 'info']?.(msg) }
    })
    this.caps = { ...sampleCapabilities({ role: o.role, dataDir: o.dataDir, sensors: o.sensors }), ...o.capabilities }
    this.startDeviceMonitor()
  }

  /** libp2p (transport, discovery, private network) and the node's identity */
  private async startHost (): Promise<void> {
    const o = this.opts
    this.host = await createHost({
      dataDir: o.dataDir, listen: o.listen, bootstrap: o.bootstrap, mdns: o.mdns,
      clusterKey: o.clusterKey, clusterName: o.clusterName, log: this.log.child('host')
    })
    this.id = this.host.peerId
    // any discovered peer means a cluster may exist: the fresh-node bootstrap then listens longer
    this.host.libp2p.addEventListener('peer:discovery', () => { this.peersDiscovered++ })
    this.history = new TaskHistory(join(o.dataDir, 'history.db'), () => this.slotsByDevice(), { retentionMs: o.historyRetentionMs, now: Date.now })
  }

  /** the exec protocol, the leader loop and the worker (they act only once Raft names a leader) */
  private createClusterServices (): void {
    const o = this.opts
    this.exec = new ExecService({
      selfId: this.id,
      // the exec channel is opened below, with the others
      channel: { request: (peer, bytes, opts) => this.execCh.request(peer, bytes, opts), send: (peer, bytes) => this.execCh.send(peer, bytes) },
      core: this.core,
      leader: () => this.leader,
      worker: () => this.worker,
      raft: () => this.driver,
      gossipLastSeen: id => this.gossip?.lastSeen(id),
      now: Date.now,
      log: this.log.child('exec'),
      onProgress: ev => { for (const l of this.progressListeners) l(ev) }
    })
    this.leader = new LeaderLoop({
      selfId: this.id,
      core: this.core,
      bids: () => this.gossip.bids(),
      isMember: id => { const c = this.driver?.conf; return c !== undefined && (c.voters.includes(id) || c.learners.includes(id)) },
      lastSeen: id => this.exec.lastSeen(id),
      dispatch: (dev, items) => this.exec.dispatch(dev, items),
      cancelOn: (dev, taskId, attempt) => { this.exec.cancelOn(dev, taskId, attempt) },
      now: Date.now,
      deviceTimeoutMs: o.deviceTimeoutMs,
      log: this.log.child('leader'),
      settings: settingsOf(o)
    })
    this.worker = new Worker(this.id, this.executor, this.exec.workerLink(), this.log.child('worker'))
  }

  /** the Raft, client and exec channels, and the bid gossip */
  private async startChannels (): Promise<void> {
    const o = this.opts
    const libp2p = this.host.libp2p
    this.raftCh = new FramedChannel(libp2p, RAFT_PROTOCOL, { maxFrameBytes: MAX_RAFT_FRAME_BYTES, onMessage: (from, b) => { this.onRaft(from, b); return undefined }, log: this.log.child('raft') })
    this.clientCh = new FramedChannel(libp2p, CLIENT_PROTOCOL, { onMessage: (from, b) => this.onClient(from, b), log: this.log.child('client') })
    this.execCh = new FramedChannel(libp2p, EXEC_PROTOCOL, { onMessage: (from, b) => this.exec.onExec(from, b), log: this.log.child('exec') })
    await Promise.all([this.raftCh.start(), this.clientCh.start(), this.execCh.start()])

    this.gossip = new BidGossip({
      host: this.host,
      clusterName: o.clusterName,
      source: () => this.makeBid(),
      incarnation: this.incarnation,
      log: this.log.child('gossip'),
      ttlMs: Math.max(o.deviceTimeoutMs * 2, 5000)
    })
    this.gossip.onBid(bid => {
      this.ensureConnected(bid)
      this.exec.bidReceived(bid.nodeId)
    })
    await this.gossip.start()
  }

  /** the user-facing scheduler, the history and hand-off hooks on applied events */
  private createScheduler (): void {
    const o = this.opts
    this.scheduler = new NodeScheduler({
      nodeId: this.id,
      core: this.core,
      leader: this.leader,
      isLeader: () => this.driver?.isLeader === true,
      leaderRequest: makeLeaderRequest(this.clientCh, () => this.driver?.leaderId ?? null, this.id),
      now: Date.now,
      rng: cryptoRng,
      history: this.history,
      localPrincipal: 'local-admin',
      writeDeadlineMs: o.writeDeadlineMs,
      unavailable: () => this.storageDown,
      onProgress: l => { this.progressListeners.add(l); return () => { this.progressListeners.delete(l) } }
    })
    this.core.onEvent(e => { this.recordHistory(e) })
    this.handoff = new HandoffController({
      state: () => this.core.state,
      bids: () => this.gossip.bids(),
      propose: cmd => { this.core.propose(cmd) },
      now: Date.now
    })
    this.core.onEvent(e => { if (this.isLeaderNow()) this.handoff.onEvent(e) })
    const h = setInterval(() => { if (this.isLeaderNow()) this.handoff.tick() }, HANDOFF_INTERVAL_MS)
    h.unref?.()
    this.timers.push(h)
    if (TRACE_ON) this.core.onEvent(e => { if ('taskId' in e) traceMark(e.taskId, `${e.kind}.applied`) })
    setDefaultScheduler(this.scheduler)
  }

  /** the HTTP API and node.json (what the CLI reads to find this node) */
  private async startApi (): Promise<void> {
    const o = this.opts
    this.token = this.loadOrCreateToken()
    if (o.api !== false) {
      this.api = await startApiServer(this, { host: o.api.host, port: o.api.port, token: this.token, log: this.log.child('api') })
    }
    this.writeNodeJson()
  }

  // ---- device policy and drain ----------------------------------------------------------------

  private startDeviceMonitor (): void {
    const o = this.opts
    this.monitor = new DeviceMonitor({
      root: o.signalRoot,
      binDir: o.signalBinDir,
      termux: this.caps.platform === 'android',
      dataDir: o.dataDir,
      policy: o.devicePolicy === false ? false : { ...this.devicePolicyFile(), ...o.devicePolicy },
      mobile: this.caps.role === 'mobile',
      onChange: s => {
        this.log.info(`device ${s.state}${s.reason !== undefined ? `: ${s.reason}` : ''}`)
        this.gossip?.poke()
      }
    })
    this.monitor.tick(Date.now())
    const t = setInterval(() => { this.monitor.tick(Date.now()) }, DEVICE_SAMPLE_INTERVAL_MS)
    t.unref?.()
    this.timers.push(t)
  }

  /** <dataDir>/device-policy.json, if present; a bad file is an error the operator must fix */
  private devicePolicyFile (): Partial<DevicePolicyConfig> {
    const p = join(this.dataDir, 'device-policy.json')
    if (!existsSync(p)) return {}
    let parsed: unknown
    try { parsed = JSON.parse(readFileSync(p, 'utf8')) } catch (err) { throw new Error(`${p}: ${(err as Error).message}`) }
    const problem = devicePolicyProblem(parsed)
    if (problem !== undefined) throw new Error(`${p}: ${problem}`)
    return parsed as Partial<DevicePolicyConfig>
  }

  async drain (opts: { deadlineMs?: number, reason?: string, wait?: boolean } = {}): Promise<DrainStatus> {
    const deadlineMs = opts.deadlineMs ?? DRAIN_DEADLINE_MS
    this.monitor.drain(Date.now(), deadlineMs, opts.reason)
    if (opts.wait === true) {
      // the leader hands the work off; wait (bounded) until nothing of ours is in flight
      const until = Date.now() + deadlineMs + 2000
      while (Date.now() < until && (this.core.state.runningCount(this.id) > 0 || this.executor.activeCount > 0)) await sleep(100)
    }
    return this.drainStatus()
  }

  async undrain (): Promise<DrainStatus> {
    this.monitor.undrain(Date.now())
    return this.drainStatus()
  }

  private drainStatus (): DrainStatus {
    return { id: this.id, ...this.monitor.status(Date.now()), runningTasks: this.core.state.runningCount(this.id) }
  }

  // ---- Raft -----------------------------------------------------------------------------------

  private hasRaftState (): boolean {
    const { confState } = this.storage.initialState()
    return confState.voters.length + confState.learners.length > 0 || this.storage.lastIndex() > 0
  }

  /** Fresh node: join a cluster we can see, or form one with the other fresh nodes. */
  private async bootstrap (): Promise<void> {
    const started = Date.now()
    while (!this.stopping) {
      const decision = decideBootstrap({
        selfId: this.id,
        expect: this.opts.bootstrapExpect,
        bids: this.gossip.bids(),
        elapsedMs: Date.now() - started,
        settleMs: BOOTSTRAP_SETTLE_MS,
        announced: this.opts.bootstrap.length > 0 || this.peersDiscovered > 0 || this.host.connectedPeers().length > 0,
        quietSettleMs: this.opts.mdns ? BOOTSTRAP_QUIET_MDNS_MS : 0
      })
      if (decision !== undefined) {
        if (decision.kind === 'form') {
          this.log.info(`forming a new cluster with voters ${decision.voters.map(v => v.slice(-8)).join(', ')}`)
          // Identical initial snapshot on every founder: index 1, term 1, the voter set.
          this.storage.save({
            snapshot: { meta: { index: 1, term: 1, conf: { voters: decision.voters, learners: [] } }, data: new Uint8Array(0) },
            hardState: { term: 1, vote: null, commit: 1 }
          })
        } else {
          this.log.info('found an existing cluster: waiting to be added as a learner')
        }
        this.startRaft()
        return
      }
      await sleep(BOOTSTRAP_POLL_MS)
    }
  }

  private startRaft (): void {
    const snap = this.storage.snapshot()
    if (snap.data.byteLength > 0) this.core.restore(snap.data)
    this.driver = this.makeDriver(snap.meta.index)
    const cs = this.storage.initialState().confState
    this.member = cs.voters.includes(this.id) || cs.learners.includes(this.id)
    this.core.bindProposer(data => { this.driver!.propose(data) })
    // A committed entry this node cannot apply (a bug; the core has logged it): stop Raft here, so
    // it neither votes, leads nor acknowledges with a state the others may not have.
    this.core.onHalt(() => { this.driver?.stop() })
    this.driver.start()
    // the only voter: no one else can lead or vote, so elect now rather than after a timeout
    if (cs.voters.length === 1 && cs.voters[0] === this.id) this.driver.campaign()
    const t = setInterval(() => { this.autopilot() }, AUTOPILOT_INTERVAL_MS)
    t.unref?.()
    this.timers.push(t)
    if (this.opts.logLevel === 'debug') this.startStatsLine()
    const p = setInterval(() => { void this.pingLeader() }, LEADER_PING_INTERVAL_MS)
    p.unref?.()
    this.timers.push(p)
    this.gossip.poke()
    // the garbage of a busy period is freed once the node goes quiet (see idle-gc.ts)
    this.idleGc = new IdleGc({
      activity: () => this.core.appliedCommands,
      sched: realScheduler,
      onCollect: (before, after, ms) => { this.log.debug(`idle: heap ${Math.round(before / 1048576)} → ${Math.round(after / 1048576)} MB (full GC, ${Math.round(ms)} ms)`) }
    })
    this.idleGc.start()
  }

  /**
   * The Raft log's storage refused a write (a full disk, most likely): the driver stopped without
   * acknowledging anything of it, and what is durable is intact (the failed transaction rolled
   * back). This node leaves Raft for now — it neither leads nor votes, and submissions through it
   * are forwarded to the leader (or refused with 'no_leader' when there is none) — and starts a
   * new driver on the same storage and state once the disk has room again.
   */
  private onStorageError (err: Error): void {
    const reason = /SQLITE_FULL|ENOSPC|disk is full/i.test(`${(err as { code?: string }).code ?? ''} ${err.message}`) ? 'disk full' : `storage error: ${err.message}`
    this.storageDown = reason
    this.log.error(`${reason}: this node left Raft (no leading, voting or acknowledging); it rejoins once the disk under ${this.opts.dataDir} has ${STORAGE_RESUME_FREE_MB} MB free`)
    this.onRoleChange('follower', null, this.driver?.raft.status().term ?? 0)
    const timer = setInterval(() => {
      if (this.stopping) { clearInterval(timer); return }
      if (freeBytes(this.opts.dataDir) < STORAGE_RESUME_FREE_MB * 1024 * 1024) return
      clearInterval(timer)
      const applied = this.driver?.appliedIndex ?? 0
      try {
        this.driver = this.makeDriver(applied)
        this.storageDown = undefined
        this.driver.start()
        this.log.info(`the disk has room again: this node rejoined Raft at applied index ${applied}`)
      } catch (e) {
        this.log.error('could not restart Raft after a storage error', e)
      }
    }, STORAGE_RETRY_MS)
    timer.unref?.()
    this.timers.push(timer)
  }

  private makeDriver (applied: number): RaftDriver {
    return new RaftDriver({
      id: this.id,
      storage: this.storage,
      tickMs: this.opts.tickMs,
      electionTicks: this.opts.electionTicks,
      rng: cryptoRng,
      log: this.log.child('raft'),
      send: m => { this.sendRaft(m) },
      apply: e => { this.core.applyEntry(e) },
      onConfState: cs => {
        const was = this.member
        this.member = cs.voters.includes(this.id) || cs.learners.includes(this.id)
        if (was !== this.member) this.gossip.poke()
      },
      onRoleChange: (role, leaderId, term) => { this.onRoleChange(role, leaderId, term) },
      snapshotData: () => this.core.snapshotData(),
      restoreSnapshot: data => { this.core.restore(data) },
      snapshotEntries: this.opts.snapshotEntries,
      snapshotLogBytes: this.opts.snapshotLogBytes,
      onStorageError: err => { this.onStorageError(err) },
      applied
    })
  }

  private isLeaderNow (): boolean { return this.driver?.isLeader === true }

  /** measure the round trip to the leader over the exec protocol (also proves the leader is reachable) */
  private async pingLeader (): Promise<void> {
    const leader = this.driver?.leaderId
    if (leader === null || leader === undefined || leader === this.id || this.stopping) return
    const t0 = performance.now()
    try {
      const res = decode(await this.execCh.request(leader, encode('ping', { nonce: ++this.pingNonce, at: Date.now() }), { timeoutMs: 2000 }), EXEC_BATCH_MESSAGES)
      if (res.type !== 'pong') return
      const rtt = performance.now() - t0
      this.latencyMs = this.latencyMs === 0 ? rtt : this.latencyMs + 0.3 * (rtt - this.latencyMs)
    } catch { /* an unreachable leader shows up in Raft; nothing to record */ }
  }

  /** debug: one line a second with what the pipeline did */
  private startStatsLine (): void {
    let prev = { ...this.driver!.stats, cmds: this.core.appliedCommands }
    const t = setInterval(() => {
      const d = this.driver!
      const s = { ...d.stats, cmds: this.core.appliedCommands }
      const st = this.core.state
      const readies = s.readies - prev.readies
      this.log.debug(`stats: ${d.isLeader ? 'leader' : 'follower'} readies/s=${readies} written/s=${s.entriesWritten - prev.entriesWritten} ` +
        `applied/s=${s.entriesApplied - prev.entriesApplied} cmds/s=${s.cmds - prev.cmds} flushMs/ready=${readies === 0 ? 0 : ((s.flushMs - prev.flushMs) / readies).toFixed(1)} ` +
        `saveMs=${(s.saveMs - prev.saveMs).toFixed(0)} applyMs=${(s.applyMs - prev.applyMs).toFixed(0)} KB/s=${((s.bytesWritten - prev.bytesWritten) / 1024).toFixed(0)} ` +
        `tasks=${st.size} ready=${st.readySize} active=${st.activeTasks().length} worker=${this.worker.activeCount}`)
      prev = s
    }, 1000)
    t.unref?.()
    this.timers.push(t)
  }

  private onRoleChange (role: string, leaderId: string | null, term: number): void {
    this.log.info(`raft: ${role}, leader ${leaderId?.slice(-8) ?? 'none'}, term ${term}`)
    this.exec.roleChanged(role, term)
    this.gossip.poke()
  }

  private sendRaft (m: Message): void {
    let bytes: Uint8Array
    try { bytes = encode('raft', m, MAX_RAFT_FRAME_BYTES) } catch (err) { this.log.error('raft message not encodable', err); return }
    const sent = this.raftCh.send(m.to, bytes)
    if (m.type === 'snap') {
      // handed to the stream is as much as we can know; a lost one is retried by the core's timeout
      sent.then(() => { this.driver?.reportSnapshot(m.to, true) }, () => { this.driver?.reportSnapshot(m.to, false); this.driver?.reportUnreachable(m.to) })
    } else {
      sent.catch(() => { this.driver?.reportUnreachable(m.to) })
    }
  }

  private onRaft (from: string, bytes: Uint8Array): void {
    let msg: Message
    try {
      msg = decode(bytes, RAFT_MESSAGES, MAX_RAFT_FRAME_BYTES).body as Message
    } catch (err) {
      this.log.warn(`raft: rejected a malformed message from ${from.slice(-8)}`, (err as Error).message)
      return
    }
    if (msg.from !== from) { this.log.warn(`raft: message claims to be from ${msg.from.slice(-8)} but came from ${from.slice(-8)}; dropped`); return }
    if (msg.to !== this.id) return
    // Only members speak Raft to a member: a stranger's message with a high term would otherwise
    // depose a healthy leader. A fresh node (no configuration yet) listens to whoever leads.
    const conf = this.driver?.conf
    if (conf !== undefined && this.member && !conf.voters.includes(from) && !conf.learners.includes(from)) {
      this.log.warn(`raft: dropped '${msg.type}' from ${from.slice(-8)}, which is not a member`)
      return
    }
    this.exec.heard(from)
    this.driver?.step(msg)
  }

  private autopilot (): void {
    const d = this.driver
    if (d === undefined || !d.isLeader) return
    const st = d.raft.status() as any
    const now = Date.now()
    const change = nextMembershipChange({
      selfId: this.id,
      conf: d.conf,
      targetVoters: this.opts.voters,
      alive: this.gossip.bids(),
      silentForMs: id => { const t = this.exec.lastSeen(id); return t === undefined ? undefined : now - t },
      deadVoterTimeoutMs: this.opts.deadVoterTimeoutMs,
      matchIndex: id => st.progress?.[id]?.match ?? 0,
      lastIndex: this.storage.lastIndex()
    })
    if (change === undefined) return
    try {
      d.proposeConfChange(change)
      this.log.info(`autopilot: ${change.type} ${change.nodeId.slice(-8)}`)
    } catch (err) {
      this.log.debug('autopilot change not proposed', (err as Error).message)
    }
  }

  // ---- client protocol (the exec protocol lives in cluster/exec-service.ts) -------------------

  private async onClient (from: string, bytes: Uint8Array): Promise<Uint8Array | undefined> {
    this.exec.heard(from)
    return handleClientRequest({
      core: this.core,
      leader: this.leader,
      isLeader: () => this.driver?.isLeader === true,
      leaderId: () => this.driver?.leaderId ?? null,
      now: Date.now,
      log: this.log
    }, from, bytes)
  }

  // ---- bids and peers -------------------------------------------------------------------------

  private makeBid (): BidFields {
    const load = (this.opts.loadSampler ?? sampleLoad)()
    const exec = this.executor.capabilities()
    const d = this.driver
    const bid: BidFields = {
      ...this.caps,
      name: this.name,
      taskTypes: exec.taskTypes,
      permissions: this.opts.grant,
      sandbox: exec.sandbox,
      cpuUsage: load.cpuUsage,
      memoryUsage: load.memoryUsage,
      memoryUsedGb: load.memoryUsedGb,
      activeTasks: this.executor.activeCount,
      maxConcurrentTasks: this.monitor.slots(this.executor.maxConcurrentTasks),
      device: this.monitor.status(Date.now()),
      latencyMs: this.isLeaderNow() ? 0 : Math.round(this.latencyMs),
      cluster: { member: this.member, leaderId: d?.leaderId ?? null, term: d?.raft.status().term ?? 0 }
    }
    const battery = this.monitor.bidBattery()
    if (battery !== undefined) bid.battery = battery
    const url = this.api?.url
    if (url !== undefined) bid.apiUrl = url
    bid.addrs = this.host.multiaddrs().slice(0, 8)
    return bid
  }

  /** peers that met through a third node learn each other's addresses from the bid and dial */
  private ensureConnected (bid: DeviceBid): void {
    if (bid.addrs === undefined || bid.addrs.length === 0 || bid.nodeId === this.id) return
    if (this.host.connectedPeers().includes(bid.nodeId) || this.dialing.has(bid.nodeId)) return
    this.dialing.add(bid.nodeId)
    const libp2p = this.host.libp2p
    const peer = peerIdFromString(bid.nodeId)
    // hand libp2p every address the peer announced; it tries them (a LAN peer's 127.0.0.1 just fails)
    libp2p.peerStore.merge(peer, { multiaddrs: bid.addrs.map(a => multiaddr(a.split('/p2p/')[0]!)) })
      .then(async () => { await libp2p.dial(peer) })
      .catch(err => { this.log.debug(`dial ${bid.nodeId.slice(-8)} failed`, (err as Error).message) })
      .finally(() => { this.dialing.delete(bid.nodeId) })
  }

  private slotsByDevice (): Map<string, number> {
    const m = new Map<string, number>()
    for (const b of this.gossip.bids()) m.set(b.nodeId, b.maxConcurrentTasks)
    return m
  }

  private recordHistory (e: ClusterEvent): void {
    if (e.kind !== 'complete' && !(e.kind === 'error' && e.final)) return
    const rec = this.core.state.getTask(e.taskId)
    if (rec === undefined) return
    const cur = rec.attempts[rec.attempts.length - 1]
    this.history.record({
      taskId: rec.id,
      attempt: e.attempt,
      deviceId: e.deviceId ?? cur?.deviceId ?? '',
      taskType: rec.taskType,
      status: rec.status,
      submittedAt: rec.submittedAt,
      startedAt: cur?.startedAt ?? cur?.assignedAt ?? rec.submittedAt,
      finishedAt: rec.finishedAt ?? e.at
    })
  }

  // ---- ClusterNode ----------------------------------------------------------------------------

  onEvent (listener: (event: ClusterEvent | ProgressEvent) => void): () => void {
    const off = this.core.onEvent(e => { listener(e) })
    this.progressListeners.add(listener)
    return () => { off(); this.progressListeners.delete(listener) }
  }

  async nodes (): Promise<NodeInfo[]> {
    const now = Date.now()
    const conf = this.driver?.conf ?? { voters: [], learners: [] }
    const leaderId = this.driver?.leaderId ?? null
    const byId = new Map<string, DeviceBid>()
    for (const b of this.gossip.bids()) byId.set(b.nodeId, b)
    byId.set(this.id, { ...this.makeBid(), nodeId: this.id, incarnation: this.incarnation, seq: 0 })
    return [...byId.values()].map(b => {
      const seen = this.exec.lastSeen(b.nodeId) ?? 0
      return {
        ...b,
        id: b.nodeId,
        isLeader: b.nodeId === leaderId,
        isVoter: conf.voters.includes(b.nodeId),
        lastSeenMs: now - seen,
        alive: now - seen <= this.opts.deviceTimeoutMs,
        reliability: this.core.state.deviceReliability(now, b.nodeId)[0] ?? { deviceId: b.nodeId, score: 0.75, successes: 0, failures: 0, health: 'ok', quarantines: 0 }
      }
    }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1))
  }

  raftStatus (): RaftStatus {
    const d = this.driver
    if (d === undefined) return { term: 0, commitIndex: 0, appliedIndex: 0, leaderId: null, role: 'joining', leaderChanges: 0, voters: [], learners: [] }
    const st = d.raft.status() as any
    return {
      term: st.term,
      commitIndex: st.commit,
      appliedIndex: d.appliedIndex,
      leaderId: d.leaderId,
      role: st.role ?? (d.isLeader ? 'leader' : 'follower'),
      leaderChanges: d.leaderChanges,
      voters: d.conf.voters,
      learners: d.conf.learners,
      ...(this.core.halted !== undefined ? { halted: { ...this.core.halted } } : {}),
      ...(this.storageDown !== undefined ? { storageDown: this.storageDown } : {})
    }
  }

  multiaddrs (): string[] { return this.host.multiaddrs() }
  apiUrl (): string | undefined { return this.api?.url }

  private loadOrCreateToken (): string {
    const p = join(this.dataDir, 'api-token')
    if (existsSync(p)) {
      const t = readFileSync(p, 'utf8').trim()
      if (t.length >= 16) return t
    }
    const t = randomBytes(24).toString('hex')
    writeAtomic(p, t + '\n', 0o600)
    return t
  }

  private writeNodeJson (): void {
    const info = { peerId: this.id, name: this.name, apiUrl: this.api?.url ?? null, multiaddrs: this.multiaddrs().map(a => a.includes('/p2p/') ? a : `${a}/p2p/${this.id}`), pid: process.pid }
    writeAtomic(join(this.dataDir, 'node.json'), JSON.stringify(info, null, 2) + '\n', 0o644)
  }

  /** Graceful: a leader hands leadership over first, so the cluster does not wait for a timeout. */
  async stop (): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    const d = this.driver
    if (d?.isLeader === true) await this.handOver(d)
    for (const t of this.timers) clearInterval(t)
    this.idleGc?.stop()
    this.worker?.stop()
    this.leader?.close()
    d?.stop()
    await this.api?.close().catch(() => {})
    await this.gossip?.stop().catch(() => {})
    await Promise.all([this.raftCh?.stop(), this.clientCh?.stop(), this.execCh?.stop()].map(p => p?.catch(() => {})))
    await this.executor?.close().catch(() => {})
    await this.host?.stop().catch(() => {})
    this.history?.close()
    this.storage?.close()
  }

  private async handOver (d: RaftDriver): Promise<void> {
    const st = d.raft.status() as any
    const candidates = d.conf.voters.filter(v => v !== this.id)
      .sort((a, b) => (st.progress?.[b]?.match ?? 0) - (st.progress?.[a]?.match ?? 0))
    const target = candidates[0]
    if (target === undefined) return
    try {
      d.transferLeadership(target)
    } catch { return }
    const deadline = Date.now() + 3000
    while (Date.now() < deadline && d.isLeader) await sleep(20)
    this.log.info(d.isLeader ? 'leadership hand-over timed out; stopping anyway' : `handed leadership to ${target.slice(-8)}`)
  }
}

function writeAtomic (path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, data, { mode })
  renameSync(tmp, path)
}

/** free bytes for an unprivileged writer on the file system holding `dir` (Infinity when unknown) */
function freeBytes (dir: string): number {
  try {
    const s = statfsSync(dir)
    return s.bavail * s.bsize
  } catch { return Infinity }
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
