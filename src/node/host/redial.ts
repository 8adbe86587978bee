// Keeps the node connected to its bootstrap addresses and to the members it remembers (known-peers.ts):
// dial them at start, and while one has no live connection, redial it with exponential backoff. A
// plain loop instead of @libp2p/bootstrap because that module dials once per discovery and forgets; a cluster whose only link is a bootstrap peer must
// heal by itself after that peer restarts.
import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from './log.js'

export interface RedialInit {
  /** first retry delay after a failed dial @default 500 */
  minDelayMs?: number
  /** backoff cap: a missing bootstrap peer is retried at least this often @default 10000 */
  maxDelayMs?: number
  /** one dial attempt's bound @default 5000 */
  dialTimeoutMs?: number
}

/** a member met before: its peer id and the addresses it listened on then */
export interface RememberedPeer { id: string, addrs: string[] }

interface Target {
  /** a bootstrap address (dialled as is), or undefined for a remembered peer (dialled by id) */
  addr?: Multiaddr
  /** a remembered peer's addresses, handed to the peer store before each dial */
  remembered?: Multiaddr[]
  /** known from /p2p/ in the address, or learnt from the first successful dial */
  peer?: PeerId
  delayMs: number
  nextAt: number
}

/** how often to look while every target is connected (a disconnect event wakes us sooner) */
const CONNECTED_POLL_MS = 10_000

export class BootstrapRedialer {
  private readonly targets: Target[]
  private readonly minDelayMs: number
  private readonly maxDelayMs: number
  private readonly dialTimeoutMs: number
  private timer?: NodeJS.Timeout
  private readonly abort = new AbortController()
  private running = false
  private inRound = false

  constructor (private readonly libp2p: Pick<Libp2p, 'dial' | 'getConnections' | 'peerId' | 'peerStore' | 'addEventListener' | 'removeEventListener'>, addrs: Multiaddr[], private readonly log: Logger, init: RedialInit = {}, remembered: RememberedPeer[] = []) {
    this.minDelayMs = init.minDelayMs ?? 500
    this.maxDelayMs = init.maxDelayMs ?? 10_000
    this.dialTimeoutMs = init.dialTimeoutMs ?? 5_000
    this.targets = addrs.map(addr => {
      const id = addr.getPeerId()
      return { addr, peer: id == null ? undefined : peerIdFromString(id), delayMs: this.minDelayMs, nextAt: 0 }
    // every node may share one bootstrap list that names itself too: never dial ourselves
    }).filter(t => t.peer == null || !t.peer.equals(libp2p.peerId))
    const named = new Set(this.targets.map(t => t.peer?.toString()))
    for (const r of remembered) {
      if (named.has(r.id) || r.id === libp2p.peerId.toString()) continue
      let peer: PeerId
      let remembered: Multiaddr[]
      try { peer = peerIdFromString(r.id); remembered = r.addrs.map(a => multiaddr(a)) } catch { continue }
      this.targets.push({ peer, remembered, delayMs: this.minDelayMs, nextAt: 0 })
    }
  }

  start (): void {
    if (this.targets.length === 0 || this.running) return
    this.running = true
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    void this.loop()
  }

  stop (): void {
    this.running = false
    this.abort.abort()
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    if (this.timer != null) clearTimeout(this.timer)
  }

  /** a target went away: look again soon, instead of at the next slow poll */
  private readonly onDisconnect = (e: CustomEvent<PeerId>): void => {
    if (!this.running || this.inRound || !this.targets.some(t => t.peer?.equals(e.detail) === true)) return
    this.next(this.minDelayMs)
  }

  private async loop (): Promise<void> {
    if (!this.running) return
    const now = Date.now()
    this.inRound = true
    try {
      await Promise.all(this.targets.filter(t => t.nextAt <= now && !this.connected(t)).map(async t => this.dialOnce(t)))
    } finally { this.inRound = false }
    if (!this.running) return
    // While something is missing, poll at minDelayMs (each target keeps its own backoff). Once all
    // are connected, a disconnect event wakes us; the slow poll only backs that up (an idle node
    // should not wake twice a second for nothing).
    this.next(this.targets.every(t => this.connected(t)) ? CONNECTED_POLL_MS : this.minDelayMs)
  }

  private next (ms: number): void {
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = setTimeout(() => { void this.loop() }, ms)
    this.timer.unref()
  }

  private connected (t: Target): boolean {
    return t.peer != null && this.libp2p.getConnections(t.peer).some(c => c.status === 'open')
  }

  private async dialOnce (t: Target): Promise<void> {
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.dialTimeoutMs)])
      let conn
      if (t.addr !== undefined) {
        conn = await this.libp2p.dial(t.addr, { signal })
      } else {
        // libp2p tries every address it knows for the peer: the remembered ones and any newer
        await this.libp2p.peerStore.merge(t.peer!, { multiaddrs: t.remembered ?? [] })
        conn = await this.libp2p.dial(t.peer!, { signal })
      }
      t.peer = conn.remotePeer
      t.delayMs = this.minDelayMs
      t.nextAt = 0
      this.log.debug('redial ok', this.label(t))
    } catch (err) {
      if (!this.running) return
      t.nextAt = Date.now() + t.delayMs
      this.log.debug('redial failed; retrying', this.label(t), `in ${t.delayMs} ms`, (err as Error).message)
      t.delayMs = Math.min(this.maxDelayMs, t.delayMs * 2)
    }
  }

  private label (t: Target): string { return t.addr?.toString() ?? `remembered ${t.peer!.toString()}` }
}
