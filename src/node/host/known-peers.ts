// The cluster members this node has met, with the addresses they listened on, kept in
// `<dataDir>/peers.json` so a restarted node finds its cluster again by itself. Without it, a node
// started without --bootstrap (the first one) and without mDNS could not rejoin after a restart on
// a new port: the others redial its old address, and it knows nobody (Serf keeps a snapshot for the
// same reason). Entries not seen for `maxAgeMs` are dropped at load, so a retired device is not
// dialled forever.
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RememberedPeer } from './redial.js'

export const KNOWN_PEERS_FILE = 'peers.json'

export interface KnownPeer extends RememberedPeer {
  /** ms since the epoch of the last bid that announced these addresses (or the hourly refresh) */
  seenAt: number
}

export interface KnownPeersInit {
  dataDir: string
  /** drop entries older than this at load @default 7 days */
  maxAgeMs?: number
  /** keep at most this many (the most recently seen) @default 64 */
  maxPeers?: number
  /** rewrite an unchanged entry only when its seenAt is older than this @default 1 hour */
  refreshMs?: number
}

export class KnownPeers {
  private readonly path: string
  private readonly peers = new Map<string, KnownPeer>()
  private readonly maxPeers: number
  private readonly refreshMs: number

  constructor (init: KnownPeersInit, now: number) {
    this.path = join(init.dataDir, KNOWN_PEERS_FILE)
    this.maxPeers = init.maxPeers ?? 64
    this.refreshMs = init.refreshMs ?? 3_600_000
    const maxAgeMs = init.maxAgeMs ?? 7 * 24 * 3_600_000
    for (const p of readEntries(this.path)) {
      if (now - p.seenAt <= maxAgeMs) this.peers.set(p.id, p)
    }
  }

  list (): KnownPeer[] { return [...this.peers.values()] }

  /** A member announced where it listens (its bid). Writes the file when something changed. */
  remember (id: string, addrs: string[], now: number): void {
    if (addrs.length === 0) return
    const old = this.peers.get(id)
    const same = old !== undefined && old.addrs.length === addrs.length && old.addrs.every((a, i) => a === addrs[i])
    if (same && now - old.seenAt < this.refreshMs) return
    this.peers.delete(id) // re-insert: Map order is the eviction order (oldest first)
    this.peers.set(id, { id, addrs: [...addrs], seenAt: now })
    while (this.peers.size > this.maxPeers) this.peers.delete(this.peers.keys().next().value!)
    this.save()
  }

  private save (): void {
    const tmp = `${this.path}.tmp-${process.pid}`
    try {
      writeFileSync(tmp, JSON.stringify({ version: 1, peers: this.list() }))
      renameSync(tmp, this.path)
    } catch { /* a full or read-only disk costs us the hint, nothing else */ }
  }
}

/** The file's entries; a missing or damaged file (or damaged entries) count as none. */
function readEntries (path: string): KnownPeer[] {
  let raw: unknown
  try { raw = JSON.parse(readFileSync(path, 'utf8')) } catch { return [] }
  const peers = (raw as { peers?: unknown })?.peers
  if (!Array.isArray(peers)) return []
  return peers.filter((p): p is KnownPeer =>
    typeof p?.id === 'string' && typeof p.seenAt === 'number' && Array.isArray(p.addrs) &&
    p.addrs.length > 0 && p.addrs.every((a: unknown) => typeof a === 'string'))
}
