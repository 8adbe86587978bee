// Keeps the node connected to its bootstrap addresses: dial them at start, and while an address has no
// live connection, redial it with exponential backoff. A plain loop instead of @libp2p/bootstrap because
// that module dials once per discovery and forgets; a cluster whose only link is a bootstrap peer must
// heal by itself after that peer restarts.
import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from './log.js'

export interface RedialInit {
  /** first retry delay after a failed dial @default 500 */
  minDelayMs?: number
  /** backoff cap: a missing bootstrap peer is retried at least this often @default 10000 */
  maxDelayMs?: number
  /** one dial attempt's bound @default 5000 */
  dialTimeoutMs?: number
}

interface Target {
  addr: Multiaddr
  /** known from /p2p/ in the address, or learnt from the first successful dial */
  peer?: PeerId
  delayMs: number
  nextAt: number
}

export class BootstrapRedialer {
  private readonly targets: Target[]
  private readonly minDelayMs: number
  private readonly maxDelayMs: number
  private readonly dialTimeoutMs: number
  private timer?: NodeJS.Timeout
  private readonly abort = new AbortController()
  private running = false

  constructor (private readonly libp2p: Pick<Libp2p, 'dial' | 'getConnections' | 'peerId'>, addrs: Multiaddr[], private readonly log: Logger, init: RedialInit = {}) {
    this.minDelayMs = init.minDelayMs ?? 500
    this.maxDelayMs = init.maxDelayMs ?? 10_000
    this.dialTimeoutMs = init.dialTimeoutMs ?? 5_000
    this.targets = addrs.map(addr => {
      const id = addr.getPeerId()
      return { addr, peer: id == null ? undefined : peerIdFromString(id), delayMs: this.minDelayMs, nextAt: 0 }
    // every node may share one bootstrap list that names itself too: never dial ourselves
    }).filter(t => t.peer == null || !t.peer.equals(libp2p.peerId))
  }

  start (): void {
    if (this.targets.length === 0 || this.running) return
    this.running = true
    void this.loop()
  }

  stop (): void {
    this.running = false
    this.abort.abort()
    if (this.timer != null) clearTimeout(this.timer)
  }

  private async loop (): Promise<void> {
    if (!this.running) return
    const now = Date.now()
    await Promise.all(this.targets.filter(t => t.nextAt <= now && !this.connected(t)).map(async t => this.dialOnce(t)))
    if (!this.running) return
    // Poll cheaply: a connected target costs one map lookup per tick.
    this.timer = setTimeout(() => { void this.loop() }, this.minDelayMs)
    this.timer.unref()
  }

  private connected (t: Target): boolean {
    return t.peer != null && this.libp2p.getConnections(t.peer).some(c => c.status === 'open')
  }

  private async dialOnce (t: Target): Promise<void> {
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.dialTimeoutMs)])
      const conn = await this.libp2p.dial(t.addr, { signal })
      t.peer = conn.remotePeer
      t.delayMs = this.minDelayMs
      t.nextAt = 0
      this.log.debug('bootstrap dial ok', t.addr.toString())
    } catch (err) {
      if (!this.running) return
      t.nextAt = Date.now() + t.delayMs
      this.log.debug('bootstrap dial failed; retrying', t.addr.toString(), `in ${t.delayMs} ms`, (err as Error).message)
      t.delayMs = Math.min(this.maxDelayMs, t.delayMs * 2)
    }
  }
}
