// This node's round trip to the leader, measured with exec-protocol pings every couple of seconds
// and smoothed: bids report it, and the scheduler gives it 10 % of a device's score. A ping that
// fails records nothing (an unreachable leader shows up in Raft).
import { encode, decode } from '../../protocol/codec.js'
import { EXEC_BATCH_MESSAGES } from '../../protocol/exec-batch.js'
import { realScheduler, type CancelTimer } from '../scheduler.js'

export interface LeaderLatencyInit {
  selfId: string
  leaderId: () => string | null
  /** the exec channel's request */
  request: (peer: string, bytes: Uint8Array, opts: { timeoutMs: number }) => Promise<Uint8Array>
}

/** how often a node measures its round trip to the leader */
const LEADER_PING_INTERVAL_MS = 2000
const PING_TIMEOUT_MS = 2000
/** weight of the newest sample in the moving average */
const SMOOTHING = 0.3

export class LeaderLatency {
  /** moving average of the round trips (ms); 0 before the first one */
  latencyMs = 0
  private nonce = 0
  private cancel?: CancelTimer

  constructor (private readonly d: LeaderLatencyInit) {}

  start (): void {
    this.cancel ??= realScheduler.interval(() => { void this.ping() }, LEADER_PING_INTERVAL_MS, { unref: true })
  }

  stop (): void {
    this.cancel?.()
    this.cancel = undefined
  }

  private async ping (): Promise<void> {
    const leader = this.d.leaderId()
    if (leader === null || leader === this.d.selfId || this.cancel === undefined) return
    const t0 = performance.now()
    try {
      const res = decode(await this.d.request(leader, encode('ping', { nonce: ++this.nonce, at: Date.now() }), { timeoutMs: PING_TIMEOUT_MS }), EXEC_BATCH_MESSAGES)
      if (res.type !== 'pong') return
      const rtt = performance.now() - t0
      this.latencyMs = this.latencyMs === 0 ? rtt : this.latencyMs + SMOOTHING * (rtt - this.latencyMs)
    } catch { /* an unreachable leader shows up in Raft; nothing to record */ }
  }
}
