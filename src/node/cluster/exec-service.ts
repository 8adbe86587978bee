// The exec protocol (/retire-cluster/exec) between the leader loop and the workers, on both sides:
// the leader dispatches assignments and cancels attempts, workers report started/progress/results
// to whoever leads now, and every message (plus bids and Raft traffic, through `heard`) tells when a
// device was last heard from — what the leader's silent-device and device-down rules read. It also
// follows Raft's role: the leader loop runs only on the leader, and the worker resends its
// unacknowledged results to each new one.
//
// It knows nothing of libp2p: it speaks through an ExecChannel (a FramedChannel in a node, the
// simulated network in test/sim), so the seeded simulator runs this very code.
import { encode, decode } from '../../protocol/codec.js'
import { EXEC_BATCH_MESSAGES } from '../../protocol/exec-batch.js'
import type { AttemptResult, ClusterEvent } from '../../sched/commands.js'
import type { Role } from '../../protocol/raft/types.js'
import type { ClusterCore } from './core.js'
import type { LeaderLoop } from '../leader/leader.js'
import type { Worker, Assignment, AssignReply, WorkerLink } from '../worker/worker.js'
import type { Logger } from '../log.js'

export type ProgressEvent = { kind: 'progress', taskId: string, attempt: number, deviceId: string, at: number, progress: number }

/** the part of a FramedChannel this service uses */
export interface ExecChannel {
  request: (peer: string, bytes: Uint8Array, opts: { timeoutMs: number }) => Promise<Uint8Array>
  send: (peer: string, bytes: Uint8Array) => Promise<void>
}

/** what the service needs to know of this node's Raft (undefined before it started) */
export interface RaftView {
  isLeader: boolean
  leaderId: string | null
  raft: { status: () => { term: number } }
}

export interface ExecServiceInit {
  selfId: string
  channel: ExecChannel
  core: ClusterCore
  /** the leader loop and worker are built with this service's methods, hence the getters */
  leader: () => LeaderLoop
  worker: () => Worker
  raft: () => RaftView | undefined
  /** when the gossip table last stored a bid of this node */
  gossipLastSeen: (id: string) => number | undefined
  now: () => number
  log: Logger
  /** worker progress this node sees (all of it on the leader, its own on a worker) */
  onProgress?: (e: ProgressEvent) => void
}

/** an assignment request unanswered this long failed (the leader sends it again while it stands) */
const DISPATCH_TIMEOUT_MS = 5000
/** a result report unanswered this long failed (the worker resends) */
const RESULTS_TIMEOUT_MS = 10_000

export class ExecService {
  private readonly lastHeard = new Map<string, number>()
  /** the term this node last became leader in: workers refuse assignments of an older leader */
  private leaderTerm = 0

  constructor (private readonly d: ExecServiceInit) {
    d.core.onEvent(e => { this.appliedHere(e) })
  }

  /** a message (any protocol) or a bid came from `id` just now */
  heard (id: string): void { this.lastHeard.set(id, this.d.now()) }

  /** a bid was stored: its sender is alive, and it may have room for work */
  bidReceived (id: string): void {
    this.heard(id)
    this.d.leader().kick()
  }

  /** last time we heard from a device (bid or message); ourselves always now */
  lastSeen (id: string): number | undefined {
    if (id === this.d.selfId) return this.d.now()
    const a = this.lastHeard.get(id)
    const b = this.d.gossipLastSeen(id)
    if (a === undefined) return b
    if (b === undefined) return a
    return Math.max(a, b)
  }

  /** Raft's role changed: the leader loop starts or stops, and the worker resends to the new leader. */
  roleChanged (role: Role | string, term: number): void {
    if (role === 'leader') {
      this.leaderTerm = term
      this.d.leader().becomeLeader()
    } else {
      this.d.leader().stepDown()
      this.d.core.failAllWaiters()
    }
    this.d.worker().leaderChanged()
  }

  // ---- leader side ----------------------------------------------------------------------------

  async dispatch (deviceId: string, items: Assignment[]): Promise<AssignReply[]> {
    if (deviceId === this.d.selfId) return this.d.worker().assign(items)
    const bytes = await this.d.channel.request(deviceId, encode('assignBatch', { leaderTerm: this.leaderTerm, items }), { timeoutMs: DISPATCH_TIMEOUT_MS })
    const res = decode(bytes, EXEC_BATCH_MESSAGES)
    if (res.type !== 'assignBatchRes') throw new Error(`unexpected answer ${res.type}`)
    this.heard(deviceId)
    return (res.body as { replies: AssignReply[] }).replies
  }

  /**
   * Tell a worker at once that an attempt ended (cancelled or preempted). Sent once and may be
   * lost; the worker also learns it when it applies the entry (appliedHere), which on this node
   * is the same moment.
   */
  cancelOn (deviceId: string, taskId: string, attempt: number): void {
    if (deviceId === this.d.selfId) return // appliedHere, on this very apply
    this.d.channel.send(deviceId, encode('cancelAttempt', { taskId, attempt })).catch(() => {})
  }

  /**
   * Every node applies the log, so a worker learns from its own copy that an attempt placed on it
   * has ended without it — cancelled by a user, preempted, expired by the leader, or failed over
   * while this node was cut off — and stops it if it still holds it (waiting or running). The
   * leader's cancelAttempt is sent once and may be lost to a dropped link or a leader change;
   * without this a task cancelled then ran to its end (a day, for a long one) for nothing.
   * By attempt: a newer attempt of the task may already be here (dispatched while its assignment
   * commits, before this node applied the end of the older one). A failover or a drain's release
   * ends the attempt with an 'error' event of its own before its 'failover' one, so this is all.
   */
  private appliedHere (e: ClusterEvent): void {
    if (e.kind === 'error' && e.deviceId === this.d.selfId) this.d.worker().cancel(e.taskId, e.attempt)
  }

  // ---- worker side ----------------------------------------------------------------------------

  /** what the worker reports through: this service, to whoever leads now */
  workerLink (): WorkerLink {
    return {
      sendResults: results => this.sendResults(results),
      sendStarted: (taskId, attempt, at) => { this.toLeader('started', { taskId, attempt, startedAt: at }) },
      sendProgress: (taskId, attempt, progress, usage) => {
        this.toLeader('progress', usage === undefined ? { taskId, attempt, progress } : { taskId, attempt, progress, resourceUsage: usage })
      }
    }
  }

  /** the worker's results to the current leader; resolves with the keys it committed */
  async sendResults (results: AttemptResult[]): Promise<string[]> {
    const r = this.d.raft()
    if (r === undefined) throw new Error('no raft yet')
    if (r.isLeader) return this.d.leader().handleResults(this.d.selfId, results)
    const leader = r.leaderId
    if (leader === null) throw new Error('no leader')
    const bytes = await this.d.channel.request(leader, encode('results', { results }), { timeoutMs: RESULTS_TIMEOUT_MS })
    const res = decode(bytes, EXEC_BATCH_MESSAGES)
    if (res.type !== 'resultsAck') throw new Error(`unexpected answer ${res.type}`)
    return (res.body as { keys: string[] }).keys
  }

  toLeader (type: 'started' | 'progress', body: Record<string, unknown>): void {
    const r = this.d.raft()
    if (r === undefined) return
    if (r.isLeader) { void this.onExecMessage(this.d.selfId, type, body); return }
    // the worker's own node sees its progress too (lifecycle hooks), not only the leader
    if (type === 'progress') {
      this.d.onProgress?.({ kind: 'progress', taskId: body.taskId as string, attempt: body.attempt as number, deviceId: this.d.selfId, at: this.d.now(), progress: body.progress as number })
    }
    const leader = r.leaderId
    if (leader === null) return
    this.d.channel.send(leader, encode(type, body)).catch(() => {})
  }

  // ---- inbound --------------------------------------------------------------------------------

  /** one inbound exec frame; the answer (if the message has one) */
  async onExec (from: string, bytes: Uint8Array): Promise<Uint8Array | undefined> {
    let msg: { type: string, body: any }
    try {
      msg = decode(bytes, EXEC_BATCH_MESSAGES)
    } catch (err) {
      this.d.log.warn(`exec: rejected a malformed message from ${from.slice(-8)}`, (err as Error).message)
      return undefined
    }
    this.heard(from)
    return this.onExecMessage(from, msg.type, msg.body)
  }

  private async onExecMessage (from: string, type: string, body: any): Promise<Uint8Array | undefined> {
    switch (type) {
      case 'assignBatch': {
        // only the leader we know of (or a newer one) may assign
        const r = this.d.raft()
        const known = r?.leaderId
        if (known !== null && known !== undefined && known !== from && body.leaderTerm <= (r?.raft.status().term ?? 0)) {
          return encode('assignBatchRes', { replies: body.items.map((i: Assignment) => ({ taskId: i.taskId, attempt: i.attempt, accepted: false, reason: 'not from the current leader' })) })
        }
        return encode('assignBatchRes', { replies: this.d.worker().assign(body.items) })
      }
      case 'results': {
        if (this.d.raft()?.isLeader !== true) return encode('resultsAck', { keys: [], notLeader: true })
        const keys = await this.d.leader().handleResults(from, body.results).catch(() => [] as string[])
        return encode('resultsAck', { keys })
      }
      case 'started':
        this.d.leader().handleStarted(from, body.taskId, body.attempt, body.startedAt)
        return undefined
      case 'progress': {
        this.d.leader().handleProgress(body.taskId, body.progress, body.resourceUsage)
        this.d.onProgress?.({ kind: 'progress', taskId: body.taskId, attempt: body.attempt, deviceId: from, at: this.d.now(), progress: body.progress })
        return undefined
      }
      case 'cancelAttempt':
        if (from === this.d.raft()?.leaderId) this.d.worker().cancel(body.taskId, body.attempt)
        return undefined
      case 'ping':
        return encode('pong', { nonce: body.nonce, at: this.d.now() })
      default:
        return undefined
    }
  }
}
