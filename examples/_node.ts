// Shared by the examples: a throw-away single node on loopback, and "run main() when this file is
// executed directly" (npx tsx examples/<name>.ts). Real deployments use `retire-cluster start`.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startNode, type ClusterNode, type NodeOptions } from '../src/index.js'

/** A one-node cluster in a temp dir: no mDNS, no HTTP API, loopback only. `stop()` also deletes the dir. */
export async function startDemoNode (opts: NodeOptions = {}): Promise<ClusterNode & { stopAndClean: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'retire-cluster-example-'))
  const node = await startNode({
    dataDir,
    mdns: false,
    api: false,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'warn',
    ...opts
  })
  return Object.assign(node, {
    stopAndClean: async () => { await node.stop(); rmSync(dataDir, { recursive: true, force: true }) }
  })
}

/** Runs `main` when the importing file is the program (`npx tsx examples/x.ts`), not when imported by a test. */
export function runIfMain (metaUrl: string, main: () => Promise<unknown>): void {
  if (process.argv[1] === undefined || fileURLToPath(metaUrl) !== resolve(process.argv[1])) return
  main().then(() => process.exit(0), err => { console.error(err); process.exit(1) })
}
