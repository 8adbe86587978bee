// scripts/bench-bare: the yardstick for an idle node — three bare libp2p hosts on loopback (this
// project's createHost: TCP, Noise, yamux, identify, gossipsub subscribed to one topic; no Raft,
// no API, no sqlite, no executor), measured the way scripts/bench.ts measures our nodes: RSS 8 s
// after the hosts are connected (`idleRssMb`), CPU and main-thread wake-ups over the next
// --idle-seconds (`idleCpuPercent`, `idleWakeupsPerSec`), RSS at the end of that window
// (`settledRssMb`). Prints one JSON object.
//   node dist/scripts/bench-bare.js [--idle-seconds 10]
// The hosts run tsc's output (many module files), not a bundle as our nodes do by default: a
// bundled bare host would be a little smaller still.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createHost, silentLogger } from '../src/node/host/index.js'
import { cpuSeconds, rssMbOf, sleep, wakeups } from './lib/proc-cluster.js'

const TOPIC = 'bench-bare'

/** one bare host, dialling `bootstrap`: prints its first multiaddr, then its connected-peer count whenever it changes */
async function host (bootstrap: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rc-bare-'))
  const h = await createHost({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, mdns: false, clusterName: 'bench-bare', log: silentLogger })
  h.libp2p.services.pubsub.subscribe(TOPIC)
  process.stdout.write(`addr ${h.multiaddrs()[0]!}\n`)
  h.onPeer(() => { process.stdout.write(`peers ${h.connectedPeers().length}\n`) })
  const stop = (): void => { void h.stop().finally(() => { rmSync(dir, { recursive: true, force: true }); process.exit(0) }) }
  process.on('SIGTERM', stop)
}

interface Bare { proc: ChildProcess, addr: Promise<string>, peers: number }

function start (...bootstrap: string[]): Bare {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), 'host', ...bootstrap], { stdio: ['ignore', 'pipe', 'inherit'] })
  const b: Bare = { proc, addr: Promise.resolve(''), peers: 0 }
  b.addr = new Promise((resolve, reject) => {
    let buf = ''
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1)
        if (line.startsWith('addr ')) resolve(line.slice(5))
        if (line.startsWith('peers ')) b.peers = Number(line.slice(6))
      }
    })
    proc.once('exit', code => { reject(new Error(`bare host exited with ${String(code)}`)) })
  })
  return b
}

const round = (x: number): number => Math.round(x * 10) / 10

async function main (): Promise<void> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { 'idle-seconds': { type: 'string', default: '10' } } })
  const idleS = Number(values['idle-seconds'])
  if (!(idleS > 0)) throw new Error(`--idle-seconds: a positive number, not ${String(values['idle-seconds'])}`)
  // a full mesh, as our nodes form: the third host dials both others
  const first = start()
  const second = start(await first.addr)
  const hosts = [first, second, start(await first.addr, await second.addr)]
  try {
    await Promise.all(hosts.map(async h => await h.addr))
    const deadline = Date.now() + 30_000
    while (hosts.some(h => h.peers < 2) && Date.now() < deadline) await sleep(100)
    if (hosts.some(h => h.peers < 2)) throw new Error(`the bare hosts did not all connect: peers ${hosts.map(h => h.peers).join(', ')}`)
    await sleep(8000) // as bench.ts: 8 s after the cluster formed
    const names = hosts.map((_, i) => `bare${i + 1}`)
    const idleRssMb = Object.fromEntries(hosts.map((h, i) => [names[i], round(rssMbOf(h.proc.pid!) ?? 0)]))
    const cpu0 = hosts.map(h => cpuSeconds(h.proc.pid!))
    const wakeups0 = hosts.map(h => wakeups(h.proc.pid!))
    await sleep(idleS * 1000)
    const idleCpuPercent = Object.fromEntries(hosts.map((h, i) => [names[i], Math.round((cpuSeconds(h.proc.pid!) - cpu0[i]!) / idleS * 100 * 100) / 100]))
    const idleWakeupsPerSec = Object.fromEntries(hosts.map((h, i) => [names[i], round((wakeups(h.proc.pid!) - wakeups0[i]!) / idleS)]))
    const settledRssMb = Object.fromEntries(hosts.map((h, i) => [names[i], round(rssMbOf(h.proc.pid!) ?? 0)]))
    console.log(JSON.stringify({ hosts: 3, idleSeconds: idleS, idleRssMb, idleCpuPercent, idleWakeupsPerSec, settledRssMb }, null, 2))
  } finally {
    for (const h of hosts) h.proc.kill('SIGTERM')
  }
}

if (process.argv[2] === 'host') void host(process.argv.slice(3)); else main().catch(err => { console.error(err); process.exit(1) })
