// Figures for the framed channel between two real libp2p nodes on loopback (both in this process,
// so they share one core: a two-process run is faster). Thresholds are far below what was measured,
// they catch a regression to stream-per-message or frame-per-write, not a slow machine.
import assert from 'node:assert/strict'
import { FramedChannel } from '../../src/node/transport/framed.js'
import { silentLogger } from '../../src/node/host/log.js'
import { HostPool } from './host-fixtures.js'
import { eventually } from '../helpers/eventually.js'

describe('FramedChannel throughput (figures)', function () {
  this.timeout(60_000)
  const pool = new HostPool()
  const channels: FramedChannel[] = []
  after(async () => {
    for (const ch of channels) await ch.stop()
    await pool.stopAll()
  })

  it('measures one-way messages/s, sequential round-trip µs and pipelined requests/s', async () => {
    const a = await pool.host()
    const b = await pool.host({ bootstrap: [a.multiaddrs()[0]] })
    await eventually(() => b.connectedPeers().includes(a.peerId))
    let got = 0
    const ca = new FramedChannel(a.libp2p, '/rc-test/tput/1', { log: silentLogger, onMessage: (_p, x) => { got++; return x } })
    const cb = new FramedChannel(b.libp2p, '/rc-test/tput/1', { log: silentLogger, onMessage: () => undefined })
    channels.push(ca, cb)
    await ca.start()
    await cb.start()
    const payload = new Uint8Array(100)
    for (let i = 0; i < 500; i++) await cb.request(a.peerId, payload) // warm up the JIT

    const N = 30_000
    got = 0
    let t = performance.now()
    let cpu = process.cpuUsage()
    for (let i = 0; i < N; i++) {
      const p = cb.send(a.peerId, payload)
      if ((i & 1023) === 0) await p
    }
    await eventually(() => got >= N, { timeoutMs: 30_000, intervalMs: 5 })
    const oneWayPerSec = N / ((performance.now() - t) / 1000)
    const oneWayCpu = cpuMicros(cpu) / N

    const M = 1000
    const lat: number[] = []
    for (let i = 0; i < M; i++) {
      const s = performance.now()
      await cb.request(a.peerId, payload)
      lat.push((performance.now() - s) * 1000)
    }
    lat.sort((x, y) => x - y)

    const R = 10_000
    t = performance.now()
    cpu = process.cpuUsage()
    await Promise.all(Array.from({ length: R }, async () => await cb.request(a.peerId, payload, { timeoutMs: 30_000 })))
    const pipePerSec = R / ((performance.now() - t) / 1000)
    const pipeCpu = cpuMicros(cpu) / R

    console.log(`      one-way 100 B: ${Math.round(oneWayPerSec)} msg/s (${oneWayCpu.toFixed(1)} µs CPU/msg, both ends)`)
    console.log(`      sequential request RTT: p50 ${Math.round(lat[M / 2])} µs, p90 ${Math.round(lat[Math.floor(M * 0.9)])} µs, p99 ${Math.round(lat[Math.floor(M * 0.99)])} µs`)
    console.log(`      pipelined requests: ${Math.round(pipePerSec)} req/s (${pipeCpu.toFixed(1)} µs CPU/req, both ends)`)
    assert.ok(oneWayPerSec > 2000, `one-way ${oneWayPerSec}/s`)
    assert.ok(pipePerSec > 1000, `pipelined ${pipePerSec}/s`)
    assert.ok(lat[M / 2] < 20_000, `p50 RTT ${lat[M / 2]} µs`)
  })
})

function cpuMicros (since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since)
  return c.user + c.system
}
