// Peers that met through a third node (each knows only the node it bootstrapped from) learn each
// other's addresses from the bids and dial: the leader must reach every worker directly, and Raft
// every member. One dial per peer at a time; libp2p tries every announced address. Every bid's
// addresses are also remembered (known-peers.ts), for the next start.
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'
import type { DeviceBid } from '../../sched/types.js'
import type { Logger } from '../log.js'
import type { KnownPeers } from '../host/known-peers.js'

export interface PeerDialerInit {
  selfId: string
  libp2p: Pick<Libp2p, 'peerStore' | 'dial'>
  connectedPeers: () => string[]
  known?: KnownPeers
  log: Logger
}

export class PeerDialer {
  private readonly dialing = new Set<string>()

  constructor (private readonly d: PeerDialerInit) {}

  /** a bid arrived: dial its sender unless we are connected (or already dialling) */
  onBid (bid: DeviceBid): void {
    if (bid.nodeId === this.d.selfId) return
    if (bid.addrs !== undefined && bid.addrs.length > 0) {
      const addrs = bid.addrs.map(a => a.split('/p2p/')[0]!)
      this.d.known?.remember(bid.nodeId, addrs, Date.now())
      this.dial(bid.nodeId, addrs)
    }
    // the peers the sender is connected to: the ones we have not met yet are dialled too (their
    // own bids may never reach us if the sender is the only node between us and dies first)
    for (const p of bid.peers ?? []) {
      if (p.id === this.d.selfId || p.id === bid.nodeId) continue
      this.dial(p.id, p.addrs.map(a => a.split('/p2p/')[0]!))
    }
  }

  private dial (id: string, addrs: string[]): void {
    if (addrs.length === 0 || this.d.connectedPeers().includes(id) || this.dialing.has(id)) return
    let peer: ReturnType<typeof peerIdFromString>
    let mas: ReturnType<typeof multiaddr>[]
    try {
      peer = peerIdFromString(id)
      mas = addrs.map(a => multiaddr(a))
    } catch (err) {
      this.d.log.debug(`not dialling ${id.slice(-8)}: ${(err as Error).message}`)
      return
    }
    this.dialing.add(id)
    const { libp2p } = this.d
    // hand libp2p every address the peer announced; it tries them (a LAN peer's 127.0.0.1 just fails)
    libp2p.peerStore.merge(peer, { multiaddrs: mas })
      .then(async () => { await libp2p.dial(peer) })
      .catch(err => { this.d.log.debug(`dial ${id.slice(-8)} failed`, (err as Error).message) })
      .finally(() => { this.dialing.delete(id) })
  }
}
