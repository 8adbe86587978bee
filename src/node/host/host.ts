// The node's libp2p host: one place that fixes the stack (tcp + pnet + noise + yamux, identify, mdns,
// gossipsub) and its tuning for a small LAN cluster, and hands the rest of the node a narrow surface.
import '../polyfills.js'
import { createHash } from 'node:crypto'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import './yamux-window.js' // window updates at half the window, not after every message
import { identify, type Identify } from '@libp2p/identify'
import { mdns } from '@libp2p/mdns'
import { preSharedKey } from '@libp2p/pnet'
import { gossipsub, type GossipsubEvents } from '@chainsafe/libp2p-gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PeerId, PubSub } from '@libp2p/interface'
import { parseClusterKey } from './cluster-key.js'
import { InvalidHostOptionError } from './errors.js'
import { loadOrCreatePeerKey } from './peer-key.js'
import { BootstrapRedialer, type RedialInit, type RememberedPeer } from './redial.js'
import type { Logger } from './log.js'

// eslint-disable-next-line @typescript-eslint/consistent-type-definitions -- libp2p's ServiceMap needs an index-compatible type
export type HostServices = {
  identify: Identify
  pubsub: PubSub<GossipsubEvents>
}

export type HostLibp2p = Libp2p<HostServices>

export interface HostOptions {
  /** `<dataDir>/peer-key` holds the persistent identity */
  dataDir: string
  /** @default ['/ip4/0.0.0.0/tcp/0'] */
  listen?: string[]
  /** multiaddrs to dial at start and keep redialing while not connected */
  bootstrap: string[]
  /** announce and discover on the LAN with mDNS */
  mdns: boolean
  /** swarm-key file bytes; when given, only holders of the same key can connect */
  clusterKey?: Uint8Array
  clusterName: string
  log: Logger
  /** bootstrap redial tuning (tests shorten it) */
  redial?: RedialInit
  /** mDNS query interval; a starting node queries at once, so this only bounds re-discovery @default 5000 */
  mdnsIntervalMs?: number
  /** gossipsub heartbeat @default 500 */
  heartbeatMs?: number
  /** members met before (known-peers.ts): dialled at start and redialled like bootstrap addresses */
  remembered?: RememberedPeer[]
}

export type PeerEvent = 'connect' | 'disconnect'

export interface Host {
  readonly peerId: string
  readonly libp2p: HostLibp2p
  multiaddrs(): string[]
  connectedPeers(): string[]
  /** returns an unsubscribe function */
  onPeer(cb: (peerId: string, event: PeerEvent) => void): () => void
  /** a peer id string (must be known to the peer store, e.g. via mDNS) or a multiaddr string */
  dial(peerIdOrAddr: string): Promise<void>
  stop(): Promise<void>
}

/** gossipsub's heartbeat while a node starts (a new peer is grafted within a second), and after */
const STARTUP_HEARTBEAT_MS = 500
const STARTUP_HEARTBEAT_FOR_MS = 10_000
const SETTLED_HEARTBEAT_MS = 1000
/** how often gossipsub decays peer scores (its default: every second) */
const SCORE_DECAY_MS = 5000

/** Starts a libp2p node for this cluster. */
export async function createHost (opts: HostOptions): Promise<Host> {
  const listen = opts.listen ?? ['/ip4/0.0.0.0/tcp/0']
  if (typeof opts.clusterName !== 'string' || opts.clusterName === '') throw new InvalidHostOptionError('clusterName', 'must be a non-empty string')
  const listenAddrs = listen.map((a, i) => parseAddr(`listen[${i}]`, a))
  const bootstrap = opts.bootstrap.map((a, i) => parseAddr(`bootstrap[${i}]`, a))
  const psk = opts.clusterKey == null ? undefined : parseClusterKey(opts.clusterKey)
  const privateKey = await loadOrCreatePeerKey(opts.dataDir)

  const libp2p = await createLibp2p<HostServices>({
    privateKey,
    addresses: { listen: listenAddrs.map(String) },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: psk == null ? undefined : preSharedKey({ psk }),
    // The monitor pings each connection every 10 s and aborts it (and every stream on it) when a ping
    // times out. An old phone under load can stall for seconds; give it 10 s before we call it dead.
    connectionMonitor: { pingTimeout: { minTimeout: 10_000 } },
    peerDiscovery: opts.mdns ? [mdns({ serviceTag: mdnsServiceTag(opts.clusterName, psk), interval: opts.mdnsIntervalMs ?? 5000 })] : [],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        emitSelf: false,
        allowPublishToZeroTopicPeers: true,
        // A LAN cluster is a handful of devices: a fast heartbeat grafts new peers within a second, and
        // a small mesh degree keeps an old phone from relaying every bid to everyone several times.
        heartbeatInterval: opts.heartbeatMs ?? STARTUP_HEARTBEAT_MS,
        D: 4,
        Dlo: 3,
        Dhi: 8,
        Dout: 1, // the spec wants Dout < Dlo and Dout <= D/2
        Dlazy: 4,
        // Bids are ~1 KB; anything near this is hostile. The topic validator checks the exact cap.
        maxInboundDataLength: 1 << 20,
        // Peer scores decay every 5 s, not every second (one wake-up less a second on an idle
        // node); a behaviour penalty decays as fast per second as with the defaults (0.2 a second).
        scoreParams: { decayInterval: SCORE_DECAY_MS, behaviourPenaltyDecay: 0.2 ** (SCORE_DECAY_MS / 1000) }
      })
    }
  })

  // libp2p 2.x has no auto-dialer: discovery only fills the peer store, so dial what mDNS finds.
  libp2p.addEventListener('peer:discovery', evt => {
    const id = evt.detail.id
    if (id.equals(libp2p.peerId) || libp2p.getConnections(id).length > 0) return
    libp2p.dial(id).catch(err => { opts.log.debug('dial to discovered peer failed', id.toString(), (err as Error).message) })
  })

  // The fast start-up heartbeat has done its work once the first peers are grafted; from then on one
  // a second is enough (our own bids go to every peer anyway: floodPublish) and halves gossipsub's
  // wake-ups. gossipsub reads the interval each time it schedules the next heartbeat.
  if (opts.heartbeatMs === undefined) {
    setTimeout(() => {
      const pubsub = libp2p.services.pubsub as unknown as { opts?: { heartbeatInterval?: number } }
      if (pubsub.opts !== undefined) pubsub.opts.heartbeatInterval = SETTLED_HEARTBEAT_MS
    }, STARTUP_HEARTBEAT_FOR_MS).unref()
  }

  const redialer = new BootstrapRedialer(libp2p, bootstrap, opts.log, opts.redial, opts.remembered)
  redialer.start()
  opts.log.info('libp2p host started', libp2p.peerId.toString(), libp2p.getMultiaddrs().map(String).join(' '))
  return new Libp2pHost(libp2p, redialer)
}

class Libp2pHost implements Host {
  readonly peerId: string

  constructor (readonly libp2p: HostLibp2p, private readonly redialer: BootstrapRedialer) {
    this.peerId = libp2p.peerId.toString()
  }

  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(String)
  }

  connectedPeers (): string[] {
    return this.libp2p.getPeers().map(String)
  }

  onPeer (cb: (peerId: string, event: PeerEvent) => void): () => void {
    const onConnect = (e: CustomEvent<PeerId>): void => { cb(e.detail.toString(), 'connect') }
    const onDisconnect = (e: CustomEvent<PeerId>): void => { cb(e.detail.toString(), 'disconnect') }
    this.libp2p.addEventListener('peer:connect', onConnect)
    this.libp2p.addEventListener('peer:disconnect', onDisconnect)
    return () => {
      this.libp2p.removeEventListener('peer:connect', onConnect)
      this.libp2p.removeEventListener('peer:disconnect', onDisconnect)
    }
  }

  async dial (peerIdOrAddr: string): Promise<void> {
    const target: PeerId | Multiaddr = peerIdOrAddr.startsWith('/')
      ? parseAddr('peerIdOrAddr', peerIdOrAddr)
      : parsePeerId('peerIdOrAddr', peerIdOrAddr)
    await this.libp2p.dial(target)
  }

  async stop (): Promise<void> {
    this.redialer.stop()
    await this.libp2p.stop()
  }
}

/**
 * mDNS service tag private to one cluster (name + key fingerprint), so two clusters on one LAN never
 * answer each other's queries, let alone dial and fail the pnet handshake.
 */
export function mdnsServiceTag (clusterName: string, psk?: Uint8Array): string {
  const h = createHash('sha256').update('retire-cluster\0').update(clusterName)
  if (psk != null) h.update('\0').update(psk)
  return `_rc-${h.digest('hex').slice(0, 16)}._udp.local`
}

function parseAddr (field: string, s: string): Multiaddr {
  try {
    return multiaddr(s)
  } catch (err) {
    throw new InvalidHostOptionError(field, `not a multiaddr: ${JSON.stringify(s)} (${(err as Error).message})`)
  }
}

function parsePeerId (field: string, s: string): PeerId {
  try {
    return peerIdFromString(s)
  } catch (err) {
    throw new InvalidHostOptionError(field, `not a peer id or multiaddr: ${JSON.stringify(s)}`)
  }
}
