// scripts/bench-hop: what one message between two node processes costs on this machine, through our
// stack over libp2p (TCP + Noise + yamux + FramedChannel), over a direct link (FramedChannel on a
// socket of its own with sealed records: src/node/transport/direct.ts) and through a plain TCP
// socket. Prints JSON.
//   node dist/scripts/bench-hop.js [--round-trips 15000] [--gap-ms 10] [--gapped 300]
// A child process answers; this one sends one request at a time (the shape of a Raft round) and
// then 64 at a time, then one every --gap-ms (both sides asleep in between: the wake-up shows).
// Figures per round trip: wall time (p50, p99) and CPU on each side (user + system, all threads). The first 2,000 round trips warm the JIT up and are not counted.
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { createHost, silentLogger } from '../src/node/host/index.js'
import { FramedChannel } from '../src/node/transport/framed.js'
import { DirectLinks } from '../src/node/transport/direct.js'
import { cpuSeconds } from './lib/proc-cluster.js'

const PROTO = '/retire-cluster/bench-hop/1.0.0'
const PROTO_DIRECT = '/retire-cluster/bench-hop-direct/1.0.0'
const role = process.argv[2]


async function serve (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rc-hop-'))
  const host = await createHost({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, clusterName: 'bench-hop', log: silentLogger })
  const ch = new FramedChannel(host.libp2p, PROTO, { onMessage: (_peer, bytes) => bytes, log: silentLogger })
  await ch.start()
  const direct = new DirectLinks(host.libp2p, silentLogger)
  await direct.start('127.0.0.1')
  await new FramedChannel(host.libp2p, PROTO_DIRECT, { onMessage: (_peer, bytes) => bytes, log: silentLogger, direct }).start()
  const tcp = createServer(c => { c.setNoDelay(true); c.on('data', d => { c.write(d) }) })
  await new Promise<void>(resolve => { tcp.listen(0, '127.0.0.1', resolve) })
  process.send!({ addr: host.multiaddrs()[0], port: (tcp.address() as { port: number }).port })
  process.on('disconnect', () => { void host.stop().then(() => { rmSync(dir, { recursive: true, force: true }); process.exit(0) }) })
}

interface Figures { rttP50Us: number, rttP99Us: number, cpuUsPerRoundTripHere: number, cpuUsPerRoundTripThere: number }

async function measure (n: number, childPid: number, once: () => Promise<void>): Promise<Figures> {
  for (let i = 0; i < 2000; i++) await once()
  const lat: number[] = []
  const here0 = process.cpuUsage()
  const there0 = cpuSeconds(childPid)
  for (let i = 0; i < n; i++) { const t = performance.now(); await once(); lat.push(performance.now() - t) }
  const here = process.cpuUsage(here0)
  const there = cpuSeconds(childPid) - there0
  lat.sort((a, b) => a - b)
  return {
    rttP50Us: Math.round(lat[Math.floor(n / 2)]! * 1000),
    rttP99Us: Math.round(lat[Math.floor(n * 0.99)]! * 1000),
    cpuUsPerRoundTripHere: Math.round((here.user + here.system) / n),
    cpuUsPerRoundTripThere: Math.round(there / n * 1e6)
  }
}

/**
 * One request every `gapMs`, as a sequential submitter's hops come: both processes are asleep in
 * epoll when the message leaves, so the round trip includes waking them (on a VM, an idle vCPU).
 */
async function measureGapped (n: number, gapMs: number, once: () => Promise<void>): Promise<{ gapMs: number, rttP50Us: number, rttP90Us: number }> {
  const lat: number[] = []
  for (let i = 0; i < n; i++) {
    await new Promise(resolve => setTimeout(resolve, gapMs))
    const t = performance.now(); await once(); lat.push(performance.now() - t)
  }
  lat.sort((a, b) => a - b)
  return { gapMs, rttP50Us: Math.round(lat[Math.floor(n / 2)]! * 1000), rttP90Us: Math.round(lat[Math.floor(n * 0.9)]! * 1000) }
}

async function main (): Promise<void> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { 'round-trips': { type: 'string', default: '15000' }, 'gap-ms': { type: 'string', default: '10' }, gapped: { type: 'string', default: '300' } } })
  const n = Number(values['round-trips'])
  const gapMs = Number(values['gap-ms'])
  const gapped = Number(values.gapped)
  const child = fork(fileURLToPath(import.meta.url), ['serve'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const { addr, port } = await new Promise<{ addr: string, port: number }>(resolve => { child.once('message', m => { resolve(m as { addr: string, port: number }) }) })
  const dir = mkdtempSync(join(tmpdir(), 'rc-hop-'))
  const host = await createHost({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, clusterName: 'bench-hop', log: silentLogger })
  const ch = new FramedChannel(host.libp2p, PROTO, { onMessage: () => undefined, log: silentLogger })
  await ch.start()
  await host.dial(addr)
  const peer = addr.slice(addr.lastIndexOf('/p2p/') + 5)
  const payload = new Uint8Array(200)
  const out: Record<string, unknown> = { payloadBytes: payload.byteLength, roundTrips: n }
  out.libp2p = await measure(n, child.pid!, async () => { await ch.request(peer, payload) })
  out.libp2pGapped = await measureGapped(gapped, gapMs, async () => { await ch.request(peer, payload) })
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  const k = Math.min(n * 2, 40_000)
  let next = 0
  await Promise.all(Array.from({ length: 64 }, async () => { while (next++ < k) await ch.request(peer, payload) }))
  const c = process.cpuUsage(c0)
  out.libp2pPipelined64 = { requestsPerSec: Math.round(k / (performance.now() - t0) * 1000), cpuUsPerRequestHere: Math.round((c.user + c.system) / k) }
  const direct = new DirectLinks(host.libp2p, silentLogger)
  await direct.start('127.0.0.1')
  const dch = new FramedChannel(host.libp2p, PROTO_DIRECT, { onMessage: () => undefined, log: silentLogger, direct })
  await dch.start()
  await dch.request(peer, payload)
  if (direct.links(peer) !== 1) throw new Error('the direct channel did not open a direct link')
  out.direct = await measure(n, child.pid!, async () => { await dch.request(peer, payload) })
  out.directGapped = await measureGapped(gapped, gapMs, async () => { await dch.request(peer, payload) })
  const t1 = performance.now()
  const c1 = process.cpuUsage()
  next = 0
  await Promise.all(Array.from({ length: 64 }, async () => { while (next++ < k) await dch.request(peer, payload) }))
  const cd = process.cpuUsage(c1)
  out.directPipelined64 = { requestsPerSec: Math.round(k / (performance.now() - t1) * 1000), cpuUsPerRequestHere: Math.round((cd.user + cd.system) / k) }
  await dch.stop()
  await direct.stop()
  const sock: Socket = connect(port, '127.0.0.1')
  sock.setNoDelay(true)
  await new Promise<void>(resolve => { sock.once('connect', () => { resolve() }) })
  const buf = Buffer.alloc(payload.byteLength)
  out.tcp = await measure(n, child.pid!, async () => { await new Promise<void>(resolve => { sock.once('data', () => { resolve() }); sock.write(buf) }) })
  out.tcpGapped = await measureGapped(gapped, gapMs, async () => { await new Promise<void>(resolve => { sock.once('data', () => { resolve() }); sock.write(buf) }) })
  sock.destroy()
  await host.stop()
  rmSync(dir, { recursive: true, force: true })
  child.disconnect()
  console.log(JSON.stringify(out, null, 2))
}

if (role === 'serve') void serve(); else main().catch(err => { console.error(err); process.exit(1) })
