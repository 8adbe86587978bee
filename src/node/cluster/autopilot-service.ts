// Runs the autopilot (autopilot.ts, pure) once a second on the leader (no timer on the others):
// gathers what it reads — the configuration, the fresh bids, who was heard when, each follower's
// replication progress — and proposes the one membership change it returns. A change Raft refuses
// (one is still pending) is simply tried again next round.
import { nextMembershipChange } from './autopilot.js'
import type { RaftDriver } from '../raft/driver.js'
import type { DeviceBid } from '../../sched/types.js'
import type { Logger } from '../log.js'
import { realScheduler, type CancelTimer } from '../scheduler.js'

export interface AutopilotServiceInit {
  selfId: string
  driver: () => RaftDriver | undefined
  lastIndex: () => number
  bids: () => DeviceBid[]
  lastSeen: (id: string) => number | undefined
  targetVoters: number
  deadVoterTimeoutMs: number
  now: () => number
  log: Logger
}

const AUTOPILOT_INTERVAL_MS = 1000

export class AutopilotService {
  private started = false
  private cancel?: CancelTimer
  private roundSoon = false

  constructor (private readonly d: AutopilotServiceInit) {}

  start (): void {
    this.started = true
    this.leading(this.d.driver()?.isLeader === true)
  }

  /** The node became leader, or stopped being it: the rounds' timer runs only on the leader. */
  leading (on: boolean): void {
    if (on && this.started) this.cancel ??= realScheduler.interval(() => { this.round() }, AUTOPILOT_INTERVAL_MS, { unref: true })
    else if (!on) { this.cancel?.(); this.cancel = undefined }
  }

  stop (): void {
    this.started = false
    this.leading(false)
  }

  /**
   * A bid arrived. From a node that is not in the configuration yet, the leader runs a round now
   * instead of at the next second: a node joining a running cluster gets work only once it is a
   * member, and waiting for the round's tick made its first task come 0.85 or 1.7 s after its
   * start depending on the tick's phase (bench --mode startup, joinToWorkMs).
   */
  noticeBid (nodeId: string): void {
    const d = this.d.driver()
    if (this.cancel === undefined || this.roundSoon || d === undefined || !d.isLeader) return
    if (d.conf.voters.includes(nodeId) || d.conf.learners.includes(nodeId)) return
    this.roundSoon = true
    realScheduler.immediate(() => { this.roundSoon = false; if (this.cancel !== undefined) this.round() })
  }

  private round (): void {
    const d = this.d.driver()
    if (d === undefined || !d.isLeader) return
    const st = d.raft.status() as any
    const now = this.d.now()
    const change = nextMembershipChange({
      selfId: this.d.selfId,
      conf: d.conf,
      targetVoters: this.d.targetVoters,
      alive: this.d.bids(),
      silentForMs: id => { const t = this.d.lastSeen(id); return t === undefined ? undefined : now - t },
      deadVoterTimeoutMs: this.d.deadVoterTimeoutMs,
      matchIndex: id => st.progress?.[id]?.match ?? 0,
      lastIndex: this.d.lastIndex()
    })
    if (change === undefined) return
    try {
      d.proposeConfChange(change)
      this.d.log.info(`autopilot: ${change.type} ${change.nodeId.slice(-8)}`)
    } catch (err) {
      this.d.log.debug('autopilot change not proposed', (err as Error).message)
    }
  }
}
