// Direct links (src/node/transport/direct.ts) between real libp2p hosts on loopback: who may open
// one, what a forged, reused, tampered or oversized input does (refused, nothing delivered), and
// when a link goes away. The records are sealed here by hand, independently of socket-stream.ts.
import assert from 'node:assert/strict'
import { createCipheriv } from 'node:crypto'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type Socket } from 'node:net'
import { FramedChannel } from '../../src/node/transport/framed.js'
import { ChannelClosedError } from '../../src/node/transport/errors.js'
import { DIRECT_PROTOCOL, DirectLinks } from '../../src/node/transport/direct.js'
import { encodeBatch, KIND_REQUEST } from '../../src/node/transport/frame.js'
import { SocketStream } from '../../src/node/transport/socket-stream.js'
import type { Logger } from '../../src/node/host/log.js'
import { silentLogger } from '../../src/node/host/log.js'
import type { Host } from '../../src/node/host/host.js'
import { HostPool } from './host-fixtures.js'
import { eventually } from '../helpers/eventually.js'

const PROTO = '/retire-cluster/test-direct/1.0.0'
const enc = new TextEncoder()
const dec = new TextDecoder()

/** a logger that keeps warnings, to check a refusal is reported */
function recordingLogger (): Logger & { warnings: string[] } {
  const warnings: string[] = []
  return { ...silentLogger, warnings, warn: (...a: unknown[]) => { warnings.push(a.map(String).join(' ')) }, child: function () { return this } } as unknown as Logger & { warnings: string[] }
}

function seal (key: Uint8Array, counter: number, plain: Uint8Array): Buffer {
  const nonce = Buffer.alloc(12)
  nonce.writeBigUInt64BE(BigInt(counter), 4)
  const head = Buffer.alloc(4)
  head.writeUInt32BE(plain.byteLength)
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  c.setAAD(head, { plaintextLength: plain.byteLength })
  const ct = c.update(plain)
  c.final()
  return Buffer.concat([head, ct, c.getAuthTag()])
}

async function rawConnect (port: number): Promise<{ socket: Socket, data: Buffer[], closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port })
  const data: Buffer[] = []
  socket.on('data', d => { data.push(d) })
  socket.on('error', () => {})
  const closed = new Promise<void>(resolve => { socket.once('close', () => { resolve() }) })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  return { socket, data, closed }
}

describe('direct links (real libp2p hosts on loopback)', function () {
  this.timeout(30_000)
  const pool = new HostPool()
  const stops: Array<() => Promise<void>> = []
  let a: Host
  let b: Host

  async function links (h: Host, log: Logger = silentLogger): Promise<DirectLinks> {
    const d = new DirectLinks(h.libp2p, log)
    await d.start('127.0.0.1')
    stops.push(async () => { await d.stop() })
    return d
  }

  async function channel (h: Host, direct: DirectLinks | undefined, onMessage: (peer: string, bytes: Uint8Array) => Uint8Array | undefined): Promise<FramedChannel> {
    const ch = new FramedChannel(h.libp2p, PROTO, { log: silentLogger, direct, onMessage })
    await ch.start()
    stops.unshift(async () => { await ch.stop() })
    return ch
  }

  /** a ticket for PROTO asked of `target` from a third host, as a member's DirectLinks would */
  async function ticketFrom (target: Host): Promise<{ port: number, ticket: Buffer, toTarget: Buffer, fromTarget: Buffer }> {
    const c = await pool.host({ bootstrap: [target.multiaddrs()[0]!] })
    const ctl = new FramedChannel(c.libp2p, DIRECT_PROTOCOL, { log: silentLogger, onMessage: () => undefined })
    await ctl.start()
    stops.unshift(async () => { await ctl.stop() })
    const r = Buffer.from(await ctl.request(target.peerId, enc.encode(PROTO), { timeoutMs: 5000 }))
    return { port: r.readUInt16BE(0), ticket: r.subarray(2, 34), toTarget: r.subarray(34, 66), fromTarget: r.subarray(66, 98) }
  }

  beforeEach(async () => {
    a = await pool.host()
    b = await pool.host({ bootstrap: [a.multiaddrs()[0]!] })
    await eventually(() => a.connectedPeers().includes(b.peerId))
  })

  afterEach(async () => {
    for (const s of stops.splice(0)) await s().catch(() => {})
    await pool.stopAll()
  })

  it('a sealed record built outside our code, under the ticket\'s keys, is answered; the same ticket a second time is refused', async () => {
    const got: string[] = []
    const dA = await links(a)
    await channel(a, dA, (peer, bytes) => { got.push(`${peer}:${dec.decode(bytes)}`); return enc.encode('pong') })
    const t = await ticketFrom(a)
    assert.equal(t.port, dA.listenPort)
    const raw = await rawConnect(t.port)
    raw.socket.write(t.ticket)
    await eventually(() => raw.data.length > 0)
    assert.equal(raw.data[0]![0], 1, 'accepted')
    const frame = encodeBatch([{ kind: KIND_REQUEST, id: 7, payload: enc.encode('ping') }], 0, 1)
    raw.socket.write(seal(t.toTarget, 0, frame))
    await eventually(() => Buffer.concat(raw.data).byteLength > 1 + 4 + 16)
    assert.equal(got.length, 1)
    assert.match(got[0]!, /:ping$/)
    raw.socket.destroy()

    const again = await rawConnect(t.port)
    again.socket.write(t.ticket)
    await again.closed
    assert.deepEqual([...Buffer.concat(again.data)], [0], 'a used ticket is refused')
    assert.equal(got.length, 1)
  })

  it('refuses a forged ticket, resets a tampered or oversized record, and delivers nothing of them', async () => {
    const log = recordingLogger()
    const got: string[] = []
    const dA = await links(a, log)
    await channel(a, dA, (_p, bytes) => { got.push(dec.decode(bytes)); return undefined })

    const forged = await rawConnect(dA.listenPort)
    forged.socket.write(Buffer.alloc(32, 7))
    await forged.closed
    assert.deepEqual([...Buffer.concat(forged.data)], [0])
    assert.ok(log.warnings.some(w => /refused.*unknown or expired ticket/.test(w)), log.warnings.join('\n'))

    const frame = encodeBatch([{ kind: KIND_REQUEST, id: 1, payload: enc.encode('evil') }], 0, 1)
    // one bit flipped in the ciphertext
    const t1 = await ticketFrom(a)
    const tampered = await rawConnect(t1.port)
    tampered.socket.write(t1.ticket)
    const rec = seal(t1.toTarget, 0, frame)
    rec[6] ^= 1
    tampered.socket.write(rec)
    await tampered.closed
    // the right bytes under the other direction's key (what a reflected record would be)
    const t2 = await ticketFrom(a)
    const reflected = await rawConnect(t2.port)
    reflected.socket.write(t2.ticket)
    reflected.socket.write(seal(t2.fromTarget, 0, frame))
    await reflected.closed
    // a replayed record: counter 0 twice
    const t3 = await ticketFrom(a)
    const replay = await rawConnect(t3.port)
    replay.socket.write(t3.ticket)
    const ok = seal(t3.toTarget, 0, encodeBatch([{ kind: KIND_REQUEST, id: 1, payload: enc.encode('once') }], 0, 1))
    replay.socket.write(ok)
    await eventually(() => got.includes('once'))
    replay.socket.write(ok)
    await replay.closed
    // a length over the 1 MiB record cap: reset before the body arrives
    const t4 = await ticketFrom(a)
    const big = await rawConnect(t4.port)
    big.socket.write(t4.ticket)
    const head = Buffer.alloc(4)
    head.writeUInt32BE(64 << 20)
    big.socket.write(head)
    await big.closed

    assert.deepEqual(got, ['once'], 'only the one genuine record was delivered, once')
    // the channel still works for a real member
    const dB = await links(b)
    const cb = await channel(b, dB, () => undefined)
    await cb.send(a.peerId, enc.encode('member'))
    await eventually(() => got.includes('member'))
    assert.equal(dB.links(a.peerId), 1)
  })

  it('falls back to a libp2p stream when the peer offers no direct links', async () => {
    const got: string[] = []
    await channel(a, undefined, (_p, bytes) => { got.push(dec.decode(bytes)); return bytes })
    const dB = await links(b)
    const cb = await channel(b, dB, () => undefined)
    assert.equal(dec.decode(await cb.request(a.peerId, enc.encode('hi'), { timeoutMs: 5000 })), 'hi')
    assert.equal(dB.links(), 0)
    const streams = b.libp2p.getConnections(a.libp2p.peerId).flatMap(c => c.streams).filter(s => s.protocol === PROTO)
    assert.equal(streams.length, 1)
  })

  it('a peer libp2p cannot reach fails the open at once (no second dial), and is not counted as a failed link', async () => {
    const dB = await links(b)
    const cb = await channel(b, dB, () => undefined)
    await a.stop()
    await eventually(() => !b.connectedPeers().includes(a.peerId))
    await assert.rejects(cb.request(a.peerId, enc.encode('x'), { timeoutMs: 5000 }), (e: unknown) => e instanceof ChannelClosedError && /unreachable/.test(e.message))
    assert.equal(dB.status().failures, 0)
  })

  it('closes a peer\'s links when its libp2p connection closes, and opens new ones after it reconnects', async () => {
    const dA = await links(a)
    await channel(a, dA, (_p, bytes) => bytes)
    const dB = await links(b)
    const cb = await channel(b, dB, () => undefined)
    assert.equal(dec.decode(await cb.request(a.peerId, enc.encode('one'))), 'one')
    assert.equal(dB.links(a.peerId), 1)
    await eventually(() => dA.links(b.peerId) === 1)
    await b.libp2p.hangUp(a.libp2p.peerId)
    assert.equal(dB.links(a.peerId), 0, 'closed at once on the side that hung up')
    await eventually(() => dA.links(b.peerId) === 0)
    assert.equal(dec.decode(await cb.request(a.peerId, enc.encode('two'), { timeoutMs: 5000 })), 'two')
    assert.equal(dB.links(a.peerId), 1, 'a direct link again, not a libp2p stream')
  })
})

describe('SocketStream (sealed records over a loopback socket)', function () {
  this.timeout(30_000)

  it('carries 24 MiB in order, in records of at most 1 MiB, and stops reading while its reader does not keep up', async () => {
    const k1 = randomBytes(32)
    const k2 = randomBytes(32)
    let serverSocket: Socket | undefined
    const server = createServer(s => { serverSocket = s })
    await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
    const client = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port })
    await new Promise<void>(resolve => { client.once('connect', resolve) })
    await eventually(() => serverSocket != null)
    const reader = new SocketStream(serverSocket!, { send: k2, receive: k1 }, 1 << 20)
    const writer = new SocketStream(client, { send: k1, receive: k2 }, 1 << 20)
    const data = randomBytes(24 << 20)
    const sent = writer.sink((async function * () { for (let o = 0; o < data.byteLength; o += 3 << 20) yield data.subarray(o, o + (3 << 20)) })())
    const it = reader.source[Symbol.asyncIterator]()
    const first = await it.next()
    // the reader takes one record and then nothing for a while: the socket must be paused
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal(serverSocket!.isPaused(), true, 'reading stopped while the consumer is behind')
    const got: Buffer[] = [Buffer.from(first.value!)]
    assert.ok(first.value!.byteLength <= 1 << 20)
    let total = first.value!.byteLength
    while (total < data.byteLength) {
      const r = await it.next()
      assert.equal(r.done, false)
      assert.ok(r.value!.byteLength <= 1 << 20)
      got.push(Buffer.from(r.value!))
      total += r.value!.byteLength
    }
    await sent
    assert.ok(Buffer.concat(got).equals(data), 'every byte, in order')
    assert.equal((await it.next()).done, true, 'the writer ended its side')
    reader.abort(new Error('done'))
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  })
})
