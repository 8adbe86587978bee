// The node's libp2p identity. Persisted so the peer id (= node id in bids, Raft membership, task
// assignments) survives restarts; losing it would make the cluster see a brand-new device.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { InvalidPeerKeyError } from './errors.js'

export const PEER_KEY_FILE = 'peer-key'

/** Loads `<dataDir>/peer-key`, or creates an Ed25519 key there (mode 0600, written atomically). */
export async function loadOrCreatePeerKey (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, PEER_KEY_FILE)
  const existing = await readIfExists(path)
  if (existing != null) {
    try {
      // @libp2p/crypto 5.1.23 is typed against @libp2p/interface 3 while libp2p 2.9 uses 2.x: same
      // runtime objects, different declarations, hence the casts.
      return privateKeyFromProtobuf(existing) as unknown as PrivateKey
    } catch (err) {
      throw new InvalidPeerKeyError(path, err)
    }
  }
  await mkdir(dataDir, { recursive: true })
  const key = await generateKeyPair('Ed25519') as unknown as PrivateKey
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, privateKeyToProtobuf(key as never), { mode: 0o600 })
  await rename(tmp, path)
  return key
}

async function readIfExists (path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
