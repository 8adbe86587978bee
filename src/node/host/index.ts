// The libp2p host of a node: see host.ts.
export { createHost, mdnsServiceTag, type Host, type HostOptions, type HostLibp2p, type HostServices, type PeerEvent } from './host.js'
export { generateClusterKey, parseClusterKey } from './cluster-key.js'
export { loadOrCreatePeerKey, PEER_KEY_FILE } from './peer-key.js'
export { HostError, InvalidClusterKeyError, InvalidHostOptionError, InvalidPeerKeyError } from './errors.js'
export { silentLogger, type Logger } from './log.js'
export type { RedialInit, RememberedPeer } from './redial.js'
export { KnownPeers, KNOWN_PEERS_FILE, type KnownPeer } from './known-peers.js'
