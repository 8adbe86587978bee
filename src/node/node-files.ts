// The files a node keeps beside its data for the CLI and the operator: the API token (0600, made
// once, reused across restarts so scripts keep working) and node.json (where this node's API and
// libp2p addresses are, what `retire-cluster` commands read to find a local node). Written through
// a rename, so a reader never sees half a file.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'

/** the node's API token: <dataDir>/api-token, created (24 random bytes, hex) when missing or too short */
export function loadOrCreateToken (dataDir: string): string {
  const p = join(dataDir, 'api-token')
  if (existsSync(p)) {
    const t = readFileSync(p, 'utf8').trim()
    if (t.length >= 16) return t
  }
  const t = randomBytes(24).toString('hex')
  writeAtomic(p, t + '\n', 0o600)
  return t
}

export interface NodeJson { peerId: string, name: string, apiUrl: string | null, multiaddrs: string[] }

/** <dataDir>/node.json; each multiaddr carries /p2p/<peerId> so it can be dialled as is */
export function writeNodeJson (dataDir: string, info: NodeJson): void {
  const body = { ...info, multiaddrs: info.multiaddrs.map(a => a.includes('/p2p/') ? a : `${a}/p2p/${info.peerId}`), pid: process.pid }
  writeAtomic(join(dataDir, 'node.json'), JSON.stringify(body, null, 2) + '\n', 0o644)
}

function writeAtomic (path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, data, { mode })
  renameSync(tmp, path)
}
