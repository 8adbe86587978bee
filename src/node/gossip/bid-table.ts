// The freshest bid per node. (incarnation, seq) orders one node's bids: a restart bumps incarnation,
// so a rebooted device's seq 1 beats its pre-crash seq 9000. `lastSeen` is the local receive time,
// never the sender's clock. Time is passed in, so this stays deterministic.
import type { DeviceBid } from '../../sched/types.js'

export interface BidEntry {
  bid: DeviceBid
  /** local receive time, ms */
  lastSeen: number
}

/** true when `a` is strictly newer than `b` for the same node */
export function isNewer (a: DeviceBid, b: DeviceBid): boolean {
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && a.seq > b.seq)
}

export class BidTable {
  private readonly entries = new Map<string, BidEntry>()

  /** Stores `bid` if it is newer than what we hold; returns whether it was stored. */
  offer (bid: DeviceBid, now: number): boolean {
    const cur = this.entries.get(bid.nodeId)
    if (cur != null && !isNewer(bid, cur.bid)) return false
    this.entries.set(bid.nodeId, { bid, lastSeen: now })
    return true
  }

  /** would `bid` be stored? (the topic validator asks before the message propagates) */
  wouldAccept (bid: DeviceBid): boolean {
    const cur = this.entries.get(bid.nodeId)
    return cur == null || isNewer(bid, cur.bid)
  }

  get (nodeId: string): BidEntry | undefined {
    return this.entries.get(nodeId)
  }

  all (): BidEntry[] {
    return [...this.entries.values()]
  }

  /** Drops entries not refreshed within their TTL (`ttlOf` their bid); returns the dropped entries. */
  expire (now: number, ttlOf: (bid: DeviceBid) => number, keep?: string): BidEntry[] {
    const dropped: BidEntry[] = []
    for (const [id, e] of this.entries) {
      if (id !== keep && now - e.lastSeen > ttlOf(e.bid)) { this.entries.delete(id); dropped.push(e) }
    }
    return dropped
  }
}
