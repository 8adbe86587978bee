// Cluster keys are libp2p swarm keys (the go-ipfs/kubo `swarm.key` format), so an operator can reuse tooling
// they know. The key feeds @libp2p/pnet: every connection is XSalsa20-wrapped with it before noise even
// starts, so a device without the key cannot complete a handshake with the cluster at all.
import { randomBytes } from 'node:crypto'
import { InvalidClusterKeyError } from './errors.js'

const HEADER = '/key/swarm/psk/1.0.0/'
const CODEC = '/base16/'
const KEY_HEX = /^[0-9a-fA-F]{64}$/

/** A fresh random cluster key in swarm-key format: `/key/swarm/psk/1.0.0/\n/base16/\n<64 hex>\n`. */
export function generateClusterKey (): Uint8Array {
  return formatClusterKey(randomBytes(32).toString('hex'))
}

/**
 * Validates swarm-key bytes (as read from a key file: CRLF and a trailing newline are fine) and returns
 * them in canonical form. Throws InvalidClusterKeyError naming what is wrong.
 */
export function parseClusterKey (bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new InvalidClusterKeyError('expected bytes')
  if (bytes.byteLength > 1024) throw new InvalidClusterKeyError(`file too large (${bytes.byteLength} bytes)`)
  const lines = new TextDecoder().decode(bytes).split(/\r\n|\r|\n/).map(l => l.trim()).filter(l => l !== '')
  if (lines.length !== 3) throw new InvalidClusterKeyError(`expected 3 lines, got ${lines.length}`)
  if (lines[0] !== HEADER) throw new InvalidClusterKeyError(`first line must be ${HEADER}`)
  if (lines[1] !== CODEC) throw new InvalidClusterKeyError(`second line must be ${CODEC} (only base16 is supported)`)
  if (!KEY_HEX.test(lines[2])) throw new InvalidClusterKeyError('third line must be 64 hex digits (32 bytes)')
  return formatClusterKey(lines[2].toLowerCase())
}

function formatClusterKey (hex: string): Uint8Array {
  return new TextEncoder().encode(`${HEADER}\n${CODEC}\n${hex}\n`)
}
