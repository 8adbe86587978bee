// This node as a Raft member: the driver over the node's log storage, the Raft protocol's frames
// both ways, whether this node is in the configuration, and leaving Raft (and rejoining) when the
// log's storage refuses a write. The driver is replaced after such a failure, so everything that
// reads Raft goes through `driver` each time rather than keeping the object.
import { encode, decode } from '../../protocol/codec.js'
import { RAFT_MESSAGES } from '../../protocol/messages.js'
import { MAX_RAFT_FRAME_BYTES } from '../../protocol/limits.js'
import type { ConfState, Message } from '../../protocol/raft/types.js'
import { RaftDriver } from '../raft/driver.js'
import type { SqliteStorage } from '../raft/sqlite-storage.js'
import type { ClusterCore } from './core.js'
import type { Logger } from '../log.js'
import { realScheduler, type CancelTimer } from '../scheduler.js'
import { readDisk } from '../system/signals.js'
import { SnapshotAssembler, snapshotFrames, type SnapChunk } from './snapshot-transfer.js'

export interface RaftMemberInit {
  selfId: string
  storage: SqliteStorage
  core: ClusterCore
  /** the Raft channel's send (a FramedChannel in a node) */
  send: (peer: string, bytes: Uint8Array) => Promise<void>
  dataDir: string
  tickMs: number
  electionTicks: number
  snapshotEntries: number
  snapshotLogBytes: number
  rng: () => number
  /** the node's logger (the driver logs under its 'raft' child) */
  log: Logger
  /** a Raft message came from `id` (it is alive) */
  heard: (id: string) => void
  /** Raft's role changed, or this node left Raft ('follower' with no leader) */
  onRoleChange: (role: string, leaderId: string | null, term: number) => void
  /** this node joined or left the configuration (its bid says so) */
  onMembershipChange: () => void
}

/** after the Raft log's storage failed (full disk): how often to look for room, and how much is enough */
const STORAGE_RETRY_MS = 2000
const STORAGE_RESUME_FREE_MB = 8
/** how long a stopping leader waits for the voter it picked to take over */
const HAND_OVER_WAIT_MS = 3000
/**
 * A new cluster's first founder (by sorted id: every founder agrees on it) campaigns at once and
 * then this often until a leader is known, instead of every founder waiting out a randomized
 * election timeout (1-2 s) — founders form within a moment of each other, and a campaign before
 * the others started Raft is simply not answered. Pre-vote makes a campaign against a live leader
 * harmless.
 */
const FOUNDER_CAMPAIGN_MS = 250
/**
 * The k-th founder by sorted id starts campaigning k times this after it started Raft, if no
 * leader is known by then: a founder that started later may have seen the first one's bid say
 * "member" and joined instead of forming (it then waits for the leader's log), so the one that
 * formed is not always the first by id — it used to wait out an election timeout (bench --mode
 * startup: 2.4 s to the first leader in 2 of 5 runs, 1.35 s in the others). Long enough for the
 * first founder's campaign (two round trips) to have won on a LAN; if it has not, a second
 * campaign costs one more election, not a split cluster.
 */
const FOUNDER_STAGGER_MS = 100
const FOUNDER_CAMPAIGNS = 12

export class RaftMember {
  private current?: RaftDriver
  private isMember = false
  /** why this node left Raft (its log's storage refused a write), until it rejoins */
  private down?: string
  private cancelRetry?: CancelTimer
  private stopped = false
  /** snapshots arriving in pieces, one per sender (snapshot-transfer.ts) */
  private readonly snapshots = new SnapshotAssembler()
  /** the voters this node founded a cluster with, in this process (see FOUNDER_CAMPAIGN_MS) */
  private founders?: string[]
  private founderTimer?: ReturnType<typeof setTimeout>

  constructor (private readonly d: RaftMemberInit) {}

  /** undefined until Raft started (a fresh node first looks for a cluster) */
  get driver (): RaftDriver | undefined { return this.current }
  get member (): boolean { return this.isMember }
  get storageDown (): string | undefined { return this.down }
  get isLeader (): boolean { return this.current?.isLeader === true }
  get leaderId (): string | null { return this.current?.leaderId ?? null }
  get term (): number { return this.current?.raft.status().term ?? 0 }
  isInConf (id: string): boolean {
    const c = this.current?.conf
    return c !== undefined && (c.voters.includes(id) || c.learners.includes(id))
  }

  /** whether this node has been part of a cluster before (else it bootstraps) */
  hasState (): boolean {
    const { confState } = this.d.storage.initialState()
    return confState.voters.length + confState.learners.length > 0 || this.d.storage.lastIndex() > 0
  }

  /** a founder of a new cluster: the identical initial snapshot on every founder (index 1, term 1, the voters) */
  form (voters: string[]): void {
    this.d.storage.save({
      snapshot: { meta: { index: 1, term: 1, conf: { voters, learners: [] } }, data: new Uint8Array(0) },
      hardState: { term: 1, vote: null, commit: 1 }
    })
    this.founders = [...voters].sort()
  }

  start (): void {
    const snap = this.d.storage.snapshot()
    if (snap.data.byteLength > 0) this.d.core.restore(snap.data)
    this.current = this.makeDriver(snap.meta.index)
    const cs = this.d.storage.initialState().confState
    this.isMember = cs.voters.includes(this.d.selfId) || cs.learners.includes(this.d.selfId)
    this.d.core.bindProposer(data => { this.current!.propose(data) }, () => this.current?.logApplied === true)
    // A committed entry this node cannot apply (a bug; the core has logged it): stop Raft here, so
    // it neither votes, leads nor acknowledges with a state the others may not have.
    this.d.core.onHalt(() => { this.current?.stop() })
    this.current.start()
    // the only voter: no one else can lead or vote, so elect now rather than after a timeout
    if (cs.voters.length === 1 && cs.voters[0] === this.d.selfId) this.current.campaign()
    else if (this.founders?.includes(this.d.selfId) === true) this.campaignAsFounderAfter(this.founders.indexOf(this.d.selfId) * FOUNDER_STAGGER_MS)
  }

  private campaignAsFounderAfter (delayMs: number): void {
    if (delayMs <= 0) { this.campaignAsFounder(FOUNDER_CAMPAIGNS); return }
    this.founderTimer = setTimeout(() => { this.campaignAsFounder(FOUNDER_CAMPAIGNS) }, delayMs)
    this.founderTimer.unref?.()
  }

  private campaignAsFounder (left: number): void {
    const d = this.current
    if (this.stopped || d === undefined || d.leaderId !== null || left <= 0) return
    d.campaign()
    this.founderTimer = setTimeout(() => { this.campaignAsFounder(left - 1) }, FOUNDER_CAMPAIGN_MS)
    this.founderTimer.unref?.()
  }

  /** Graceful: a leader hands leadership over first, so the cluster does not wait for a timeout. */
  async handOver (): Promise<void> {
    const d = this.current
    if (d?.isLeader !== true) return
    const st = d.raft.status() as any
    const target = d.conf.voters.filter(v => v !== this.d.selfId)
      .sort((a, b) => (st.progress?.[b]?.match ?? 0) - (st.progress?.[a]?.match ?? 0))[0]
    if (target === undefined) return
    try {
      d.transferLeadership(target)
    } catch { return }
    const deadline = Date.now() + HAND_OVER_WAIT_MS
    while (Date.now() < deadline && d.isLeader) await new Promise(resolve => setTimeout(resolve, 20))
    this.d.log.info(d.isLeader ? 'leadership hand-over timed out; stopping anyway' : `handed leadership to ${target.slice(-8)}`)
  }

  /** Before a graceful stop: the next start restores this snapshot rather than replaying the log. */
  async snapshotBeforeStop (): Promise<void> {
    await this.current?.snapshotBeforeStop()
  }

  stop (): void {
    this.stopped = true
    this.snapshots.close()
    this.cancelRetry?.()
    clearTimeout(this.founderTimer)
    this.current?.stop()
  }

  /** one inbound frame of the Raft protocol */
  onMessage (from: string, bytes: Uint8Array): void {
    let decoded: ReturnType<typeof decode<typeof RAFT_MESSAGES>>
    try {
      decoded = decode(bytes, RAFT_MESSAGES, MAX_RAFT_FRAME_BYTES)
    } catch (err) {
      this.d.log.warn(`raft: rejected a malformed message from ${from.slice(-8)}`, (err as Error).message)
      return
    }
    let msg: Message
    if (decoded.type === 'snapChunk') {
      const c = decoded.body as SnapChunk
      if (c.msg.from !== from || !this.mayStep(from, c.msg)) return
      let whole: Message | undefined
      try { whole = this.snapshots.add(from, c) } catch (err) {
        this.d.log.warn(`raft: rejected a snapshot piece from ${from.slice(-8)}`, (err as Error).message)
        return
      }
      if (whole === undefined) { this.d.heard(from); return }
      msg = whole
    } else {
      msg = decoded.body as Message
    }
    if (!this.mayStep(from, msg)) return
    this.d.heard(from)
    this.current?.step(msg)
  }

  /** the checks every Raft message from `from` passes before it reaches the core */
  private mayStep (from: string, msg: Message): boolean {
    if (msg.from !== from) { this.d.log.warn(`raft: message claims to be from ${msg.from.slice(-8)} but came from ${from.slice(-8)}; dropped`); return false }
    if (msg.to !== this.d.selfId) return false
    // Only members speak Raft to a member: a stranger's message with a high term would otherwise
    // depose a healthy leader. A fresh node (no configuration yet) listens to whoever leads.
    if (this.current !== undefined && this.isMember && !this.isInConf(from)) {
      this.d.log.warn(`raft: dropped '${msg.type}' from ${from.slice(-8)}, which is not a member`)
      return false
    }
    return true
  }

  private send (m: Message): void {
    if (m.type === 'snap') { void this.sendSnapshot(m); return }
    let bytes: Uint8Array
    try { bytes = encode('raft', m, MAX_RAFT_FRAME_BYTES) } catch (err) { this.d.log.error('raft message not encodable', err); return }
    this.d.send(m.to, bytes).catch(() => { this.current?.reportUnreachable(m.to) })
  }

  /** a snapshot, in one frame or in pieces (snapshot-transfer.ts), each sent once the one before is handed over */
  private async sendSnapshot (m: Message): Promise<void> {
    const driver = this.current
    try {
      const frames = snapshotFrames(m)
      if (frames.length > 1) this.d.log.info(`raft: sending a snapshot at index ${m.snapshot!.meta.index} to ${m.to.slice(-8)} in ${frames.length} pieces`)
      for (const f of frames) {
        if (this.stopped || this.current !== driver) return
        await this.d.send(m.to, f)
      }
    } catch (err) {
      // not encodable, replaced by a newer snapshot meanwhile, or the peer unreachable: the core
      // tries again (with the newest snapshot) after it hears it failed
      this.d.log.debug(`raft: a snapshot to ${m.to.slice(-8)} was not sent`, (err as Error).message)
      driver?.reportSnapshot(m.to, false)
      driver?.reportUnreachable(m.to)
      return
    }
    // handed to the stream is as much as we can know; a lost one is retried by the core's timeout
    driver?.reportSnapshot(m.to, true)
  }

  private roleChanged (role: string, leaderId: string | null, term: number): void {
    this.d.log.info(`raft: ${role}, leader ${leaderId?.slice(-8) ?? 'none'}, term ${term}`)
    this.d.onRoleChange(role, leaderId, term)
  }

  private confChanged (cs: ConfState): void {
    const was = this.isMember
    this.isMember = cs.voters.includes(this.d.selfId) || cs.learners.includes(this.d.selfId)
    if (was !== this.isMember) this.d.onMembershipChange()
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
    this.down = reason
    this.d.log.error(`${reason}: this node left Raft (no leading, voting or acknowledging); it rejoins once the disk under ${this.d.dataDir} has ${STORAGE_RESUME_FREE_MB} MB free`)
    this.roleChanged('follower', null, this.term)
    this.cancelRetry?.()
    this.cancelRetry = realScheduler.interval(() => { this.rejoinIfRoom() }, STORAGE_RETRY_MS, { unref: true })
  }

  private rejoinIfRoom (): void {
    if (this.stopped) { this.cancelRetry?.(); return }
    const disk = readDisk(this.d.dataDir) // free space unknown (statfs failed): try anyway
    if (disk !== 'unknown' && disk.freeBytes < STORAGE_RESUME_FREE_MB * 1024 * 1024) return
    this.cancelRetry?.()
    const applied = this.current?.appliedIndex ?? 0
    try {
      this.current = this.makeDriver(applied)
      this.down = undefined
      this.current.start()
      this.d.log.info(`the disk has room again: this node rejoined Raft at applied index ${applied}`)
    } catch (e) {
      this.d.log.error('could not restart Raft after a storage error', e)
    }
  }

  private makeDriver (applied: number): RaftDriver {
    const core = this.d.core
    const storage = this.d.storage
    core.bindStoredSnapshot((index, offset, length) => storage.readSnapshotRange(index, offset, length))
    return new RaftDriver({
      id: this.d.selfId,
      storage: this.d.storage,
      tickMs: this.d.tickMs,
      electionTicks: this.d.electionTicks,
      rng: this.d.rng,
      log: this.d.log.child('raft'),
      send: m => { this.send(m) },
      apply: e => { core.applyEntry(e) },
      onConfState: cs => { this.confChanged(cs) },
      onRoleChange: (role, leaderId, term) => { this.roleChanged(role, leaderId, term) },
      snapshotData: () => core.snapshotData(),
      snapshotAsync: () => core.snapshotInSlices(),
      snapshotStored: index => { core.snapshotStored(index) },
      restoreSnapshot: (data, index) => { core.restoreInSlices(data, index) },
      snapshotEntries: this.d.snapshotEntries,
      snapshotLogBytes: this.d.snapshotLogBytes,
      onStorageError: err => { this.onStorageError(err) },
      applied
    })
  }
}
