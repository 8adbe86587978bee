// Shared by the host/gossip/transport integration tests: real libp2p hosts on 127.0.0.1 with
// throwaway data dirs, stopped and removed after each test.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHost, type Host, type HostOptions } from '../../src/node/host/host.js'
import { silentLogger } from '../../src/node/host/log.js'

export class HostPool {
  private readonly hosts: Host[] = []
  private readonly dirs: string[] = []
  /** unique per pool so parallel test runs on this machine never meet over mDNS */
  readonly clusterName = `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`

  dataDir (): string {
    const d = mkdtempSync(join(tmpdir(), 'rc-host-'))
    this.dirs.push(d)
    return d
  }

  async host (opts: Partial<HostOptions> = {}): Promise<Host> {
    const h = await createHost({
      dataDir: opts.dataDir ?? this.dataDir(),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [],
      mdns: false,
      clusterName: this.clusterName,
      log: silentLogger,
      redial: { minDelayMs: 100, maxDelayMs: 500, dialTimeoutMs: 1000 },
      ...opts
    })
    this.hosts.push(h)
    return h
  }

  async stopAll (): Promise<void> {
    await Promise.allSettled(this.hosts.splice(0).map(async h => { await h.stop() }))
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  }
}
