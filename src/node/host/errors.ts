// Errors of the libp2p host layer: one class per condition, each naming what was wrong.

export class HostError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'HostError'
  }
}

/** The cluster key bytes are not a libp2p swarm key (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex). */
export class InvalidClusterKeyError extends HostError {
  constructor (message: string) {
    super(`invalid cluster key: ${message}`)
    this.name = 'InvalidClusterKeyError'
  }
}

/** `<dataDir>/peer-key` exists but does not hold a protobuf private key. */
export class InvalidPeerKeyError extends HostError {
  constructor (path: string, cause: unknown) {
    super(`invalid peer key file ${path}: not a protobuf-encoded libp2p private key`, { cause })
    this.name = 'InvalidPeerKeyError'
  }
}

/** A host option is malformed (bad multiaddr, empty cluster name, ...). */
export class InvalidHostOptionError extends HostError {
  constructor (field: string, message: string) {
    super(`invalid host option ${field}: ${message}`)
    this.name = 'InvalidHostOptionError'
  }
}
