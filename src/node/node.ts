// startNode: the composition root. It wires the libp2p host, the Raft member over sqlite, the
// cluster state machine, the leader loop, the worker and executor, the gossip of bids, the client
// and exec protocols and the HTTP API into one ClusterNode. Each piece lives in its own module and
// owns its behaviour; this file only creates them, starts them in dependency order and stops them
// in reverse.
import './polyfills.js'
import { mkdirSync } from 'node:fs'
import { cpus, hostname } from 'node:os'
import { join } from 'node:path'
import { resolveOptions, settingsOf, type NodeOptions, type ResolvedOptions } from './config.js'
import { createLogger, type Logger } from './log.js'
import { createHost, type Host } from './host/host.js'
import { KnownPeers } from './host/known-peers.js'
import { FramedChannel } from './transport/framed.js'
import { DirectLinks } from './transport/direct.js'
import { BidGossip } from './gossip/bids.js'
import { ownBid } from './gossip/own-bid.js'
import { PeerDialer } from './gossip/peer-dialer.js'
import { SqliteStorage } from './raft/sqlite-storage.js'
import { ClusterCore } from './cluster/core.js'
import { RaftMember } from './cluster/raft-member.js'
import { firstStart, unheardPeers } from './cluster/first-start.js'
import { AutopilotService } from './cluster/autopilot-service.js'
import { LeaderLatency } from './cluster/leader-latency.js'
import { startStatsLine } from './cluster/stats-line.js'
import { ProgressFeed } from './cluster/progress-feed.js'
import { nodeList, raftStatusOf } from './cluster/node-views.js'
import { drain, undrain, type DrainInit } from './cluster/drain.js'
import { LeaderLoop } from './leader/leader.js'
import { Worker } from './worker/worker.js'
import { ExecService, type ProgressEvent } from './cluster/exec-service.js'
import { TaskExecutor } from './executor/executor.js'
import { TaskRegistry, loadHandlerModules } from './handlers/registry.js'
import { sampleCapabilities, sampleLoad, type DeviceCapabilities } from './system/sample.js'
import { probeSandbox } from './system/sandbox.js'
import { IdleGc } from './system/idle-gc.js'
import { realScheduler, type CancelTimer } from './scheduler.js'
import { DeviceMonitor } from './system/monitor.js'
import { readDevicePolicyFile } from './system/device-policy-file.js'
import { HandoffController } from './leader/handoff.js'
import { NodeScheduler } from './client/scheduler.js'
import { handleClientRequest, makeLeaderRequest, type ClientServiceDeps } from './client/service.js'
import { TaskHistory } from './client/history.js'
import { TERMINAL_STATUSES } from '../sched/types.js'
import { setDefaultScheduler } from './client/groups.js'
import { startApiServer, type ApiServer } from './api/index.js'
import { loadOrCreateToken, writeNodeJson } from './node-files.js'
import type { DirectLinkStatus, ClusterNode, DrainStatus, NodeInfo, RaftStatus } from './api-types.js'
import type { BidFields } from './gossip/significance.js'
import { MAX_RAFT_FRAME_BYTES } from '../protocol/limits.js'
import { CLIENT_PROTOCOL, EXEC_PROTOCOL, RAFT_PROTOCOL } from '../protocol/ids.js'
import { cryptoRng as bufferedCryptoRng } from './task-ids.js'
import type { ClusterEvent } from '../sched/commands.js'
import { TRACE_ON, traceMark } from './trace.js'

export type { NodeOptions } from './config.js'
export type { ProgressEvent } from './cluster/exec-service.js'

// one CSPRNG call per 256 draws (a task id takes 16): randomInt per draw was ~0.7 % of a node's CPU in batches
const cryptoRng = bufferedCryptoRng()

/** discovered peer ids remembered for a fresh node's bootstrap decision (a LAN has a few) */
const MAX_DISCOVERED_PEERS = 1024

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
  // the components, in the order start() creates them
  private readonly core: ClusterCore
  private storage!: SqliteStorage
  private incarnation = 0
  private executor!: TaskExecutor
  private caps!: DeviceCapabilities
  private monitor!: DeviceMonitor
  private host!: Host
  /** members met before, redialled after a restart (peers.json) */
  private knownPeers!: KnownPeers
  /** peers libp2p discovered (mDNS): a fresh node that saw any listens longer before forming a cluster */
  /** peers found by mDNS (or any discovery) before this node is in a cluster: a fresh node waits for their bids */
  private readonly discovered = new Set<string>()
  /** when the host started: a fresh node's listening for an existing cluster counts from its mDNS query */
  private hostStartedAt = 0
  private history!: TaskHistory
  private readonly progress = new ProgressFeed()
  /** woken when Raft tells of another leader (or none): forwarded writes go again at once */
  private readonly leaderListeners = new Set<() => void>()
  private exec!: ExecService
  private leader!: LeaderLoop
  private worker!: Worker
  private raft!: RaftMember
  private raftCh!: FramedChannel
  private clientCh!: FramedChannel
  private execCh!: FramedChannel
  private direct?: DirectLinks
  private latency!: LeaderLatency
  private gossip!: BidGossip
  private makeBid!: () => BidFields
  private autopilot!: AutopilotService
  private handoff!: HandoffController
  private api?: ApiServer
  private idleGc?: IdleGc
  private stopStatsLine?: CancelTimer
  /** aborted by stop(): ends a fresh node's search for a cluster */
  private readonly stopping = new AbortController()

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
    if (this.raft.hasState()) this.startRaft()
    else void this.findCluster()
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
    this.monitor = new DeviceMonitor({
      root: o.signalRoot,
      binDir: o.signalBinDir,
      termux: this.caps.platform === 'android',
      dataDir: o.dataDir,
      policy: o.devicePolicy === false ? false : { ...readDevicePolicyFile(o.dataDir), ...o.devicePolicy },
      mobile: this.caps.role === 'mobile',
      onChange: s => {
        this.log.info(`device ${s.state}${s.reason !== undefined ? `: ${s.reason}` : ''}`)
        this.gossip?.poke()
      }
    })
    this.monitor.start()
  }

  /** libp2p (transport, discovery, private network), the node's identity, the task history */
  private async startHost (): Promise<void> {
    const o = this.opts
    this.knownPeers = new KnownPeers({ dataDir: o.dataDir }, Date.now())
    this.host = await createHost({
      dataDir: o.dataDir, listen: o.listen, bootstrap: o.bootstrap, mdns: o.mdns,
      clusterKey: o.clusterKey, clusterName: o.clusterName, log: this.log.child('host'), remembered: this.knownPeers.list()
    })
    this.id = this.host.peerId
    this.hostStartedAt = Date.now()
    this.host.libp2p.addEventListener('peer:discovery', evt => {
      if (this.discovered.size < MAX_DISCOVERED_PEERS) this.discovered.add(evt.detail.id.toString())
    })
    const slotsByDevice = (): Map<string, number> => new Map(this.gossip.bids().map(b => [b.nodeId, b.maxConcurrentTasks]))
    this.history = new TaskHistory(join(o.dataDir, 'history.db'), slotsByDevice, { retentionMs: o.historyRetentionMs, now: Date.now })
  }

  /** the exec protocol, the leader loop, the worker and the Raft member (they act once Raft names a leader) */
  private createClusterServices (): void {
    const o = this.opts
    this.exec = new ExecService({
      selfId: this.id,
      // the exec channel is opened below, with the others
      channel: { request: (peer, bytes, opts) => this.execCh.request(peer, bytes, opts), send: (peer, bytes) => this.execCh.send(peer, bytes) },
      core: this.core,
      leader: () => this.leader,
      worker: () => this.worker,
      raft: () => this.raft.driver,
      gossipLastSeen: id => this.gossip?.lastSeen(id),
      now: Date.now,
      log: this.log.child('exec'),
      onProgress: ev => { this.progress.emit(ev) }
    })
    this.leader = new LeaderLoop({
      selfId: this.id,
      core: this.core,
      bids: () => this.gossip.bids(),
      isMember: id => this.raft.isInConf(id),
      lastSeen: id => this.exec.lastSeen(id),
      dispatch: (dev, items) => this.exec.dispatch(dev, items),
      cancelOn: (dev, taskId, attempt) => { this.exec.cancelOn(dev, taskId, attempt) },
      now: Date.now,
      deviceTimeoutMs: o.deviceTimeoutMs,
      log: this.log.child('leader'),
      settings: settingsOf(o)
    })
    this.worker = new Worker(this.id, this.executor, this.exec.workerLink(), this.log.child('worker'))
    this.raft = this.createRaftMember()
  }

  /** this node in Raft; its role and membership changes reach the exec service and the next bid */
  private createRaftMember (): RaftMember {
    const o = this.opts
    return new RaftMember({
      selfId: this.id,
      storage: this.storage,
      core: this.core,
      send: (peer, bytes) => this.raftCh.send(peer, bytes),
      dataDir: o.dataDir,
      tickMs: o.tickMs,
      electionTicks: o.electionTicks,
      snapshotEntries: o.snapshotEntries,
      snapshotLogBytes: o.snapshotLogBytes,
      rng: cryptoRng,
      log: this.log,
      heard: id => { this.exec.heard(id) },
      onRoleChange: (role, _leaderId, term) => {
        this.exec.roleChanged(role, term)
        // timers that only the leader needs run only while it leads
        this.handoff?.leading(role === 'leader')
        this.autopilot?.leading(role === 'leader')
        this.gossip.poke()
        for (const l of [...this.leaderListeners]) l()
      },
      onMembershipChange: () => { this.gossip.poke() }
    })
  }

  /** the Raft, client and exec channels (client requests are served by client/service.ts), and the bid gossip with the dialer that follows it */
  private async startChannels (): Promise<void> {
    const o = this.opts
    const libp2p = this.host.libp2p
    if (o.directLinks) {
      this.direct = new DirectLinks(libp2p, this.log.child('direct'))
      await this.direct.start(directListenHost(o.listen))
    }
    const direct = this.direct
    this.raftCh = new FramedChannel(libp2p, RAFT_PROTOCOL, { direct, maxFrameBytes: MAX_RAFT_FRAME_BYTES, onMessage: (from, b) => { this.raft.onMessage(from, b); return undefined }, log: this.log.child('raft') })
    const client: ClientServiceDeps = { core: this.core, leader: this.leader, isLeader: () => this.raft.isLeader, leaderId: () => this.raft.leaderId, now: Date.now, log: this.log }
    this.clientCh = new FramedChannel(libp2p, CLIENT_PROTOCOL, { onMessage: (from, b) => { this.exec.heard(from); return handleClientRequest(client, from, b) }, direct, log: this.log.child('client') })
    this.execCh = new FramedChannel(libp2p, EXEC_PROTOCOL, { onMessage: (from, b) => this.exec.onExec(from, b), direct, log: this.log.child('exec') })
    await Promise.all([this.raftCh.start(), this.clientCh.start(), this.execCh.start()])

    this.latency = new LeaderLatency({ selfId: this.id, leaderId: () => this.raft.leaderId, request: (peer, bytes, opts) => this.execCh.request(peer, bytes, opts) })
    this.makeBid = ownBid({
      name: this.name,
      caps: this.caps,
      permissions: o.grant,
      sampleLoad: o.loadSampler ?? sampleLoad,
      executor: this.executor,
      monitor: this.monitor,
      raft: this.raft,
      latencyMs: () => this.latency.latencyMs,
      apiUrl: () => this.api?.url,
      multiaddrs: () => this.host.multiaddrs(),
      peers: () => {
        const connected = new Set(this.host.connectedPeers())
        return this.knownPeers.list().filter(p => connected.has(p.id))
      },
      now: Date.now
    })
    this.gossip = new BidGossip({
      host: this.host,
      clusterName: o.clusterName,
      source: this.makeBid,
      incarnation: this.incarnation,
      log: this.log.child('gossip'),
      // a bid outlives two device timeouts (an idle member's: three of its refreshes, BidGossip)
      ttlMs: Math.max(o.deviceTimeoutMs * 2, 5000)
    })
    const dialer = new PeerDialer({ selfId: this.id, libp2p, connectedPeers: () => this.host.connectedPeers(), known: this.knownPeers, log: this.log })
    this.gossip.onBid(bid => {
      dialer.onBid(bid)
      this.exec.bidReceived(bid.nodeId)
      this.autopilot?.noticeBid(bid.nodeId)
    })
    await this.gossip.start()
  }

  /** the user-facing scheduler; history, hand-off and tracing on applied events */
  private createScheduler (): void {
    this.scheduler = new NodeScheduler({
      nodeId: this.id,
      core: this.core,
      leader: this.leader,
      isLeader: () => this.raft.isLeader,
      leaderRequest: makeLeaderRequest(this.clientCh, () => this.raft.leaderId, this.id),
      leaderId: () => this.raft.leaderId,
      onLeaderChange: l => { this.leaderListeners.add(l); return () => { this.leaderListeners.delete(l) } },
      now: Date.now,
      rng: cryptoRng,
      history: this.history,
      localPrincipal: 'local-admin',
      writeDeadlineMs: this.opts.writeDeadlineMs,
      unavailable: () => {
        if (this.stopping.signal.aborted) return 'it is stopping'
        const down = this.raft.storageDown
        return down === undefined ? undefined : `${down}; it rejoins by itself when that clears`
      },
      onProgress: l => this.progress.subscribe(l)
    })
    this.core.onEvent(e => { this.history.onApplied(e, id => this.core.state.getTask(id)) })
    // the events before a snapshot this node restored were never applied here (see backfill)
    this.core.onRestore(() => {
      const st = this.core.state
      void this.history.backfill([...TERMINAL_STATUSES].flatMap(status => st.listTasks({ status })))
    })
    this.handoff = new HandoffController({
      state: () => this.core.state,
      bids: () => this.gossip.bids(),
      propose: cmd => { this.core.propose(cmd) },
      now: Date.now
    })
    this.handoff.start(() => this.raft.isLeader, l => this.core.onEvent(l))
    if (TRACE_ON) this.core.onEvent(e => { if ('taskId' in e) traceMark(e.taskId, `${e.kind}.applied`) })
    setDefaultScheduler(this.scheduler)
  }

  /** the HTTP API and node.json (what the CLI reads to find this node) */
  private async startApi (): Promise<void> {
    const o = this.opts
    const token = loadOrCreateToken(o.dataDir)
    if (o.api !== false) {
      this.api = await startApiServer(this, { host: o.api.host, port: o.api.port, token, log: this.log.child('api') })
    }
    writeNodeJson(o.dataDir, { peerId: this.id, name: this.name, apiUrl: this.api?.url ?? null, multiaddrs: this.multiaddrs() })
  }

  /** Fresh node: join a cluster we can see, or form one with the other fresh nodes; then start Raft. */
  private async findCluster (): Promise<void> {
    const o = this.opts
    await firstStart({
      selfId: this.id,
      expect: o.bootstrapExpect,
      mdns: o.mdns,
      bids: () => this.gossip.bids(),
      announced: () => o.bootstrap.length > 0 || this.discovered.size > 0 || this.host.connectedPeers().length > 0,
      unheard: () => unheardPeers(this.gossip.bids(), [...new Set([...this.host.connectedPeers(), ...this.discovered])], o.bootstrap),
      startedAt: this.hostStartedAt,
      form: voters => { this.raft.form(voters) },
      startRaft: () => { this.startRaft() },
      now: Date.now,
      log: this.log,
      signal: this.stopping.signal
    })
  }

  /** Raft, and what runs beside it: membership autopilot, latency pings, the idle GC, debug stats */
  private startRaft (): void {
    this.raft.start()
    this.autopilot = new AutopilotService({
      selfId: this.id,
      driver: () => this.raft.driver,
      lastIndex: () => this.storage.lastIndex(),
      bids: () => this.gossip.bids(),
      lastSeen: id => this.exec.lastSeen(id),
      targetVoters: this.opts.voters,
      deadVoterTimeoutMs: this.opts.deadVoterTimeoutMs,
      now: Date.now,
      log: this.log
    })
    this.autopilot.start()
    if (this.opts.logLevel === 'debug') this.stopStatsLine = startStatsLine({ driver: () => this.raft.driver, core: this.core, workerActive: () => this.worker.activeCount, log: this.log })
    this.latency.start()
    this.gossip.poke()
    // the garbage of a busy period is freed once the node goes quiet (see idle-gc.ts)
    this.idleGc = new IdleGc({
      activity: () => this.core.appliedCommands,
      sched: realScheduler,
      onCollect: (before, after, ms) => { this.log.debug(`idle: heap ${Math.round(before / 1048576)} → ${Math.round(after / 1048576)} MB (full GC, ${Math.round(ms)} ms)`) }
    })
    this.idleGc.start()
  }

  // ---- ClusterNode ----------------------------------------------------------------------------

  onEvent (listener: (event: ClusterEvent | ProgressEvent) => void): () => void {
    const off = this.core.onEvent(e => { listener(e) })
    const offProgress = this.progress.subscribe(listener)
    return () => { off(); offProgress() }
  }

  async nodes (): Promise<NodeInfo[]> {
    return nodeList({
      selfId: this.id,
      raft: this.raft,
      core: this.core,
      bids: () => this.gossip.bids(),
      ownBid: () => ({ ...this.makeBid(), nodeId: this.id, incarnation: this.incarnation, seq: 0 }),
      lastSeen: id => this.exec.lastSeen(id),
      deviceTimeoutMs: this.opts.deviceTimeoutMs,
      extraSilenceMs: b => this.gossip.extraSilenceMs(b),
      now: Date.now
    })
  }

  raftStatus (): RaftStatus { return raftStatusOf(this.raft, this.core) }
  directLinks (): DirectLinkStatus | undefined { return this.direct?.status() }
  multiaddrs (): string[] { return this.host.multiaddrs() }
  apiUrl (): string | undefined { return this.api?.url }

  async drain (opts: { deadlineMs?: number, reason?: string, wait?: boolean } = {}): Promise<DrainStatus> { return drain(this.drainView(), opts) }
  async undrain (): Promise<DrainStatus> { return undrain(this.drainView()) }
  private drainView (): DrainInit {
    return { selfId: this.id, monitor: this.monitor, core: this.core, executorActive: () => this.executor.activeCount, now: Date.now }
  }

  /** Graceful, in the reverse order of start(): a leader hands leadership over first, so the cluster does not wait for a timeout. */
  async stop (): Promise<void> {
    if (this.stopping.signal.aborted) return
    this.stopping.abort()
    await this.raft?.handOver()
    await this.raft?.snapshotBeforeStop().catch(err => { this.log.warn('the snapshot before stopping failed', err) })
    this.idleGc?.stop()
    this.latency?.stop()
    this.stopStatsLine?.()
    this.autopilot?.stop()
    this.handoff?.stop()
    this.worker?.stop()
    this.leader?.close()
    this.raft?.stop()
    // what still waits for a commit never gets one now: answered at once (a write: 'unavailable',
    // it is stopping). Each waiter's timer (10-30 s) otherwise kept the process alive that long —
    // a node made leader by a peer's hand-over while the whole cluster stopped took 10 s to exit.
    this.core.failAllWaiters()
    await this.api?.close().catch(() => {})
    await this.gossip?.stop().catch(() => {})
    await Promise.all([this.raftCh?.stop(), this.clientCh?.stop(), this.execCh?.stop()].map(p => p?.catch(() => {})))
    await this.direct?.stop().catch(() => {})
    await this.executor?.close().catch(() => {})
    await this.host?.stop().catch(() => {})
    this.history?.close()
    this.monitor?.stop()
    this.storage?.close()
  }
}

/** the direct links listen where libp2p's first TCP address does (all interfaces by default) */
function directListenHost (listen: string[]): string {
  for (const a of listen) {
    const m = /^\/(ip4|ip6)\/([^/]+)\/tcp\//.exec(a)
    if (m != null) return m[2]
  }
  return '0.0.0.0'
}
