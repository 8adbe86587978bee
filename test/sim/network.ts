// Simulated network: every message is encoded with msgpackr (proving it is plain wire data and
// giving the receiver its own copy), then delayed, dropped, duplicated or reordered as the seed's
// fault rates say. Partitions are sets of blocked directed links (one-way cuts are just one entry).
import { Packr } from 'msgpackr'
import type { Message, NodeId } from '../../src/protocol/raft/types.js'
import { randInt, type Rng } from './rng.js'

export interface NetRates {
  drop: number
  duplicate: number
  /** delivery delay in ticks, uniform in [1, maxDelay] */
  maxDelay: number
  /** false: each link is FIFO (like a TCP/libp2p stream); true: messages overtake each other */
  reorder: boolean
}

/** what the network carries: Raft messages by default; the cluster simulation adds its own envelopes */
export interface Routed { from: NodeId, to: NodeId, type: string }

interface InFlight { at: number, seq: number, from: NodeId, to: NodeId, bytes: Uint8Array }

/** bound on queued messages: beyond it new messages are dropped (a real network drops too) */
const MAX_QUEUED = 20000

export class SimNetwork<M extends Routed = Message> {
  now = 0
  private queue: InFlight[] = []
  private seq = 0
  private readonly blocked = new Set<string>()
  private readonly packr = new Packr({ useRecords: false })
  /** last scheduled delivery per link, for FIFO links */
  private readonly lastAt = new Map<string, number>()
  sent = 0
  dropped = 0

  /** told whether each snapshot message arrived, as a real transport would report it */
  onSnapFate: ((from: NodeId, to: NodeId, delivered: boolean) => void) | undefined

  constructor (private readonly rng: Rng, public rates: NetRates) {}

  block (from: NodeId, to: NodeId): void { this.blocked.add(`${from}>${to}`) }
  isBlocked (from: NodeId, to: NodeId): boolean { return this.blocked.has(`${from}>${to}`) }
  heal (): void { this.blocked.clear() }
  blockedLinks (): number { return this.blocked.size }

  send (m: M): void {
    this.sent++
    if (this.isBlocked(m.from, m.to) || this.rng() < this.rates.drop || this.queue.length >= MAX_QUEUED) {
      this.dropped++
      if (m.type === 'snap') this.onSnapFate?.(m.from, m.to, false)
      return
    }
    const bytes = this.packr.pack(m)
    const copies = this.rng() < this.rates.duplicate ? 2 : 1
    const link = `${m.from}>${m.to}`
    for (let i = 0; i < copies; i++) {
      let at = this.now + randInt(this.rng, 1, this.rates.maxDelay + 1)
      if (!this.rates.reorder) { at = Math.max(at, this.lastAt.get(link) ?? 0); this.lastAt.set(link, at) }
      this.queue.push({ at, seq: this.seq++, from: m.from, to: m.to, bytes })
    }
  }

  /** messages due by now, in delivery order (delay already reorders them); blocked links drop them */
  takeDue (): M[] {
    const due: InFlight[] = []
    const rest: InFlight[] = []
    for (const f of this.queue) (f.at <= this.now ? due : rest).push(f)
    this.queue = rest
    due.sort((a, b) => a.at - b.at || a.seq - b.seq)
    const out: M[] = []
    for (const f of due) {
      const m = this.packr.unpack(f.bytes) as M
      const blocked = this.isBlocked(f.from, f.to)
      if (m.type === 'snap') this.onSnapFate?.(m.from, m.to, !blocked)
      if (blocked) { this.dropped++; continue }
      out.push(m)
    }
    return out
  }

  queued (): number { return this.queue.length }
}
