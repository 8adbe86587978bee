// Gossip of device bids (capabilities + load) on `retire-cluster/<cluster>/load/1`.
//
// Every node publishes its bid at once on a significant change and otherwise about once a second,
// or every 5 s while it is an idle Raft member (significance.ts, refreshMs). A gossipsub
// topic validator decodes and checks each incoming bid BEFORE gossipsub forwards it or anything else
// sees it: malformed, oversized or spoofed bids (nodeId ≠ signing peer) are rejected; stale ones
// (not newer than what we hold) are ignored. Accepted bids land in a table of the freshest bid per
// node, which expires nodes that stay silent for `ttlMs` (an idle member's bid: 3 of its refreshes, if longer).
//
//   const g = new BidGossip({ host, clusterName, source: () => currentBidFields(), log })
//   await g.start()
//   g.onBid(bid => ...); g.bids(); g.poke() // after a change
import { TopicValidatorResult, type Message, type PubSub, type SubscriptionChangeData } from '@libp2p/interface'
import type { GossipsubEvents } from '@chainsafe/libp2p-gossipsub'
import { MAX_BID_BYTES } from '../../protocol/limits.js'
import { loadTopic } from '../../protocol/ids.js'
import { bidProblem } from '../../sched/device.js'
import type { DeviceBid } from '../../sched/types.js'
import type { Logger } from '../host/log.js'
import { BidTable, type BidEntry } from './bid-table.js'
import { decodeBid, encodeBid } from './bid-wire.js'
import { InvalidGossipOptionError } from './errors.js'
import { realScheduler, type CancelTimer } from '../scheduler.js'
import { bidTtlMs, isSignificantChange, refreshMs, type BidFields } from './significance.js'

export type { BidFields } from './significance.js'
export type { BidEntry } from './bid-table.js'

/** refresh period of an idle Raft member's bid (significance.ts, refreshMs) */
export const IDLE_BID_INTERVAL_MS = 5000
/**
 * The bid sent when a peer subscribes goes once more this much later. Gossipsub drops what it sends
 * to a peer before its own outbound stream to that peer is open, and the peer's subscription can
 * arrive first (each side opens its stream when it sees the connection): the bid then reached that
 * peer only with the next refresh, a second later — a fresh cluster's first leader waited for it
 * in half of the runs (bench --mode startup, issue 12).
 */
const SUBSCRIBE_RESEND_MS = 250

export interface BidGossipInit {
  /** the libp2p host (its gossipsub service and peer id) */
  host: { peerId: string, libp2p: { services: { pubsub: PubSub<GossipsubEvents> } } }
  clusterName: string
  /** this node's current capabilities and load; nodeId, incarnation and seq are filled in here */
  source: () => BidFields
  /** bumps on every restart; @default Date.now() at construction (grows across restarts on a sane clock) */
  incarnation?: number
  /** refresh period of a busy node's bid, and how often the table is checked @default 1000 */
  intervalMs?: number
  /** refresh period of an idle Raft member's bid (see refreshMs) @default 5000 */
  idleIntervalMs?: number
  /** a node not heard from for this long is dropped from the table (one whose last bid was an idle
   *  member's: for 3 idle refreshes, if that is longer) @default 5000 */
  ttlMs?: number
  /** least time between two publishes triggered by poke() @default 100 */
  minGapMs?: number
  log: Logger
  /** local clock (tests) @default Date.now */
  now?: () => number
}

export interface BidGossipStats {
  published: number
  accepted: number
  rejected: number
  ignored: number
}

export class BidGossip {
  readonly topic: string
  readonly stats: BidGossipStats = { published: 0, accepted: 0, rejected: 0, ignored: 0 }
  private readonly table = new BidTable()
  private readonly pubsub: PubSub<GossipsubEvents>
  private readonly nodeId: string
  private readonly incarnation: number
  private readonly now: () => number
  private readonly intervalMs: number
  private readonly idleIntervalMs: number
  private readonly ttlMs: number
  private readonly minGapMs: number
  /** bids decoded by the validator, picked up by the message listener without decoding twice */
  private readonly validated = new WeakMap<Uint8Array, DeviceBid>()
  private readonly bidListeners = new Set<(bid: DeviceBid) => void>()
  private readonly expireListeners = new Set<(nodeId: string) => void>()
  private seq = 0
  private lastPublished?: BidFields
  private lastPublishAt = -Infinity
  private cancelTick?: CancelTimer
  private pokeTimer?: NodeJS.Timeout
  private resendTimer?: NodeJS.Timeout
  private running = false

  constructor (private readonly init: BidGossipInit) {
    if (typeof init.clusterName !== 'string' || init.clusterName === '') throw new InvalidGossipOptionError('clusterName', 'must be a non-empty string')
    this.topic = loadTopic(init.clusterName)
    this.pubsub = init.host.libp2p.services.pubsub
    this.nodeId = init.host.peerId
    this.now = init.now ?? Date.now
    this.incarnation = init.incarnation ?? Date.now()
    if (!Number.isSafeInteger(this.incarnation) || this.incarnation < 0) throw new InvalidGossipOptionError('incarnation', 'must be a non-negative safe integer')
    this.intervalMs = init.intervalMs ?? 1000
    this.idleIntervalMs = init.idleIntervalMs ?? IDLE_BID_INTERVAL_MS
    this.ttlMs = init.ttlMs ?? 5000
    this.minGapMs = init.minGapMs ?? 100
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.pubsub.topicValidators.set(this.topic, this.validate)
    this.pubsub.addEventListener('message', this.onMessage)
    this.pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    this.pubsub.subscribe(this.topic)
    this.publishNow()
    // on the shared beat when whole seconds (src/node/scheduler.ts): one wake-up for the idle timers
    this.cancelTick = realScheduler.interval(() => { this.tick() }, this.intervalMs, { unref: true })
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.cancelTick?.()
    this.cancelTick = undefined
    clearTimeout(this.pokeTimer)
    clearTimeout(this.resendTimer)
    this.pubsub.removeEventListener('message', this.onMessage)
    this.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    if (this.pubsub.topicValidators.get(this.topic) === this.validate) this.pubsub.topicValidators.delete(this.topic)
    try { this.pubsub.unsubscribe(this.topic) } catch { /* pubsub already stopped with the host */ }
  }

  /** Freshest bid of every live node, this node's own included. */
  bids (): DeviceBid[] {
    return this.table.all().map(e => e.bid)
  }

  /** Bids with their local receive times. */
  entries (): BidEntry[] {
    return this.table.all()
  }

  get (nodeId: string): DeviceBid | undefined {
    return this.table.get(nodeId)?.bid
  }

  lastSeen (nodeId: string): number | undefined {
    return this.table.get(nodeId)?.lastSeen
  }

  /**
   * How much longer than a busy node's refresh `bid`'s sender may stay silent with nothing wrong:
   * 0 for a busy node, the difference of the two periods for an idle member (a view of liveness
   * that reads bids adds this, nodeList).
   */
  extraSilenceMs (bid: DeviceBid): number {
    return refreshMs(bid, this.intervalMs, this.idleIntervalMs) - this.intervalMs
  }

  /** Called for every bid the table stores (newer than the one held), own bids included. */
  onBid (cb: (bid: DeviceBid) => void): () => void {
    this.bidListeners.add(cb)
    return () => { this.bidListeners.delete(cb) }
  }

  /** Called when a node's bid expires (silent for ttlMs). */
  onExpire (cb: (nodeId: string) => void): () => void {
    this.expireListeners.add(cb)
    return () => { this.expireListeners.delete(cb) }
  }

  /** The source changed: publish now if the change is significant (at most once per minGapMs). */
  poke (): void {
    if (!this.running || this.pokeTimer != null) return
    const next = this.readSource()
    if (next === undefined) return
    if (this.lastPublished != null && !isSignificantChange(this.lastPublished, next)) return
    this.publishSoon(next)
  }

  /** Publishes now, or once minGapMs has passed since the last publish. */
  private publishSoon (fields?: BidFields): void {
    if (!this.running || this.pokeTimer != null) return
    const wait = this.lastPublishAt + this.minGapMs - this.now()
    if (wait <= 0) { this.publishNow(fields); return }
    this.pokeTimer = setTimeout(() => { this.pokeTimer = undefined; if (this.running) this.publishNow() }, wait)
  }

  /** A peer joined the topic: send it our bid now rather than at the next refresh, and once more soon after. */
  private readonly onSubscriptionChange = (evt: CustomEvent<SubscriptionChangeData>): void => {
    if (!evt.detail.subscriptions.some(s => s.subscribe && s.topic === this.topic)) return
    this.publishSoon()
    if (this.resendTimer != null) return
    this.resendTimer = setTimeout(() => { this.resendTimer = undefined; this.publishSoon() }, SUBSCRIBE_RESEND_MS)
    this.resendTimer.unref()
  }

  private tick (): void {
    const now = this.now()
    const ttlOf = (bid: DeviceBid): number => bidTtlMs(bid, this.ttlMs, this.intervalMs, this.idleIntervalMs)
    for (const { bid } of this.table.expire(now, ttlOf, this.nodeId)) {
      this.init.log.info(`bid gossip: ${bid.nodeId} expired (silent for ${ttlOf(bid)} ms)`)
      for (const cb of this.expireListeners) this.safe(cb, bid.nodeId)
    }
    if (this.pokeTimer != null) return // a publish is on its way
    const fields = this.readSource()
    if (fields === undefined) return
    // half a tick of slack: the interval timer and lastPublishAt are both ms-jittery
    const due = now - this.lastPublishAt >= refreshMs(fields, this.intervalMs, this.idleIntervalMs) - this.intervalMs / 2
    if (due || this.lastPublished == null || isSignificantChange(this.lastPublished, fields)) this.publishNow(fields)
  }

  private publishNow (given?: BidFields): void {
    const fields = given ?? this.readSource()
    if (fields === undefined) return
    const bid: DeviceBid = { ...fields, nodeId: this.nodeId, incarnation: this.incarnation, seq: this.seq + 1 }
    const problem = bidProblem(bid)
    let data: Uint8Array
    try {
      if (problem != null) throw new Error(problem)
      data = encodeBid(bid)
    } catch (err) {
      this.init.log.error(`bid gossip: not publishing own bid: ${(err as Error).message}`)
      return
    }
    this.seq++
    this.lastPublished = fields
    this.lastPublishAt = this.now()
    this.store(bid)
    this.stats.published++
    this.pubsub.publish(this.topic, data).catch(err => {
      this.init.log.debug(`bid gossip: publish failed: ${(err as Error).message}`)
    })
  }

  /** this node's bid fields now; undefined (logged) when the source throws */
  private readSource (): BidFields | undefined {
    try {
      return this.init.source()
    } catch (err) {
      this.init.log.error(`bid gossip: bid source failed: ${(err as Error).message}`)
      return undefined
    }
  }

  /** Runs inside gossipsub before the message is forwarded or delivered. Must not throw. */
  private readonly validate = (_from: unknown, msg: Message): TopicValidatorResult => {
    if (msg.type !== 'signed') return this.reject('unsigned message')
    if (msg.data.byteLength > MAX_BID_BYTES) return this.reject(`${msg.data.byteLength} bytes, over the ${MAX_BID_BYTES}-byte cap`)
    const bid = decodeBid(msg.data)
    if (typeof bid === 'string') return this.reject(bid)
    const publisher = msg.from.toString()
    if (bid.nodeId !== publisher) return this.reject(`nodeId ${bid.nodeId.slice(0, 64)} is not the publisher ${publisher}`)
    if (bid.nodeId === this.nodeId || !this.table.wouldAccept(bid)) {
      this.stats.ignored++
      return TopicValidatorResult.Ignore
    }
    this.validated.set(msg.data, bid)
    return TopicValidatorResult.Accept
  }

  private reject (why: string): TopicValidatorResult {
    this.stats.rejected++
    this.init.log.warn(`bid gossip: rejected a bid: ${why}`)
    return TopicValidatorResult.Reject
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic !== this.topic) return
    let bid = this.validated.get(msg.data)
    if (bid == null) {
      // only reached if gossipsub handed us a different buffer than it validated
      const d = decodeBid(msg.data)
      if (typeof d === 'string') return
      bid = d
    }
    if (this.store(bid)) this.stats.accepted++
  }

  private store (bid: DeviceBid): boolean {
    if (!this.table.offer(bid, this.now())) return false
    for (const cb of this.bidListeners) this.safe(cb, bid)
    return true
  }

  private safe<T> (cb: (x: T) => void, x: T): void {
    try { cb(x) } catch (err) { this.init.log.error(`bid gossip: listener failed: ${(err as Error).message}`) }
  }
}
