// Direct links: the framed channels' streams over a TCP socket of their own instead of a libp2p
// stream (TCP + Noise + yamux), once libp2p has told us who the peer is.
//
// Why: a message through libp2p's stack costs each side ~120 µs of CPU warm and ~3x that when the
// process was asleep, against ~40 through a plain socket (bench-hop); a task's way is ~8 such hops.
//
// How a link opens: the opener asks the peer, over an ordinary libp2p stream (so the answer comes
// from the peer id libp2p authenticated, inside the cluster key and Noise), for a ticket for one
// protocol: the port of the peer's direct listener, 32 random bytes valid once and for 10 s, and a
// fresh key for each direction. It connects to that port at the address its libp2p connection to
// the peer uses and sends the ticket; the peer answers one byte (1: accepted) and from then on
// every byte is a sealed record (socket-stream.ts) carrying that protocol's frames as a libp2p
// stream would. The ticket names the peer it was given to, so the socket belongs to that peer id;
// someone who saw the ticket go by has no keys. A link lives no longer than the peer's libp2p
// connection (its liveness pings decide when a peer is gone). Anything that goes wrong on the way
// leaves the caller to use a libp2p stream, and the peer is not tried directly again for 30 s.
import { randomBytes } from 'node:crypto'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { FramedChannel } from './framed.js'
import { PeerUnreachableError } from './errors.js'
import { LINK_KEY_BYTES, SocketStream, type ByteStream, type LinkKeys } from './socket-stream.js'
import type { Logger } from '../host/log.js'
import type { DirectLinkStatus } from '../api-types.js'

export const DIRECT_PROTOCOL = '/retire-cluster/direct/1.0.0'
const TICKET_BYTES = 32
const TICKET_TTL_MS = 10_000
const HELLO_TIMEOUT_MS = 5000
const CONNECT_TIMEOUT_MS = 1000
const RETRY_AFTER_MS = 30_000
const MAX_TICKETS = 256
const MAX_UNIDENTIFIED_SOCKETS = 64
/** a sealed record's largest plaintext: FrameWriter's batches are 256 KiB, bigger frames are split */
const MAX_RECORD_BYTES = 1 << 20
const ACCEPTED = 1
const TICKET_REPLY_BYTES = 2 + TICKET_BYTES + 2 * LINK_KEY_BYTES

type Acceptor = (stream: ByteStream, peerId: string) => void

interface Ticket { peerId: string, protocol: string, keys: LinkKeys, expires: number }

export class DirectLinks {
  private server?: Server
  private port = 0
  private readonly tickets = new Map<string, Ticket>()
  private readonly acceptors = new Map<string, Acceptor>()
  private readonly control: FramedChannel
  private readonly byPeer = new Map<string, Set<SocketStream>>()
  private readonly unidentified = new Set<Socket>()
  private readonly failedAt = new Map<string, number>()
  private failures = 0
  private refused = 0
  private readonly onDisconnect = (e: CustomEvent<PeerId>): void => { this.dropPeer(e.detail.toString()) }

  constructor (private readonly libp2p: Libp2p<any>, private readonly log: Logger, private readonly now: () => number = Date.now) {
    this.control = new FramedChannel(libp2p, DIRECT_PROTOCOL, { onMessage: (from, bytes) => this.issueTicket(from, bytes), log })
  }

  /** listens on `host` (the address libp2p listens on), any free port */
  async start (host: string): Promise<void> {
    const server = createServer(s => { this.accept(s) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, host, () => { server.off('error', reject); resolve() })
    })
    this.server = server
    this.port = (server.address() as { port: number }).port
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    await this.control.start()
  }

  async stop (): Promise<void> {
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.control.stop()
    for (const peer of [...this.byPeer.keys()]) this.dropPeer(peer)
    for (const s of this.unidentified) s.destroy()
    this.unidentified.clear()
    const server = this.server
    this.server = undefined
    if (server != null) await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }

  /** open direct sockets (both directions, all protocols) */
  links (peerId?: string): number {
    if (peerId != null) return this.byPeer.get(peerId)?.size ?? 0
    let n = 0
    for (const set of this.byPeer.values()) n += set.size
    return n
  }

  status (): DirectLinkStatus {
    return { port: this.port, open: this.links(), peers: this.byPeer.size, failures: this.failures, refused: this.refused }
  }

  /** the port the direct listener took */
  get listenPort (): number {
    return this.port
  }

  /** the protocol's inbound direct streams go to `accept` */
  register (protocol: string, accept: Acceptor): void {
    this.acceptors.set(protocol, accept)
  }

  unregister (protocol: string): void {
    this.acceptors.delete(protocol)
  }

  /** Opens a direct stream to the peer for `protocol`; throws if it cannot (the caller uses libp2p). */
  async open (peerId: string, protocol: string, timeoutMs: number): Promise<ByteStream> {
    const failed = this.failedAt.get(peerId)
    if (failed != null && this.now() - failed < RETRY_AFTER_MS) throw new Error('a direct link to this peer failed less than 30 s ago')
    try {
      return await this.connect(peerId, protocol, timeoutMs)
    } catch (err) {
      if (err instanceof PeerUnreachableError) throw err
      this.failures++
      const now = this.now()
      for (const [p, t] of this.failedAt) if (now - t >= RETRY_AFTER_MS) this.failedAt.delete(p)
      this.failedAt.set(peerId, now)
      throw err
    }
  }

  private async connect (peerId: string, protocol: string, timeoutMs: number): Promise<ByteStream> {
    // the ticket first: asking for it dials the peer if libp2p is not connected to it
    let reply: Uint8Array
    try {
      reply = await this.control.request(peerId, Buffer.from(protocol), { timeoutMs })
    } catch (err) {
      // libp2p could not reach the peer either: a libp2p stream would fail the same way
      if (this.libp2p.getConnections(peerIdFromString(peerId)).length === 0) throw new PeerUnreachableError(peerId, (err as Error).message)
      throw err
    }
    const conn = this.libp2p.getConnections(peerIdFromString(peerId)).find(c => c.status === 'open')
    if (conn == null) throw new Error('no libp2p connection to learn the address from')
    const addr = conn.remoteAddr.nodeAddress()
    if (reply.byteLength !== TICKET_REPLY_BYTES) throw new Error(`malformed ticket (${reply.byteLength} bytes)`)
    const port = (reply[0] << 8) | reply[1]
    const ticket = reply.subarray(2, 2 + TICKET_BYTES)
    const keys = { send: reply.slice(2 + TICKET_BYTES, 2 + TICKET_BYTES + LINK_KEY_BYTES), receive: reply.slice(2 + TICKET_BYTES + LINK_KEY_BYTES) }
    const socket = connect({ host: addr.address, port, noDelay: true, keepAlive: true })
    const rest = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => { fail(new Error(`no answer from ${addr.address}:${port} in ${CONNECT_TIMEOUT_MS} ms`)) }, CONNECT_TIMEOUT_MS)
      const cleanup = (): void => { clearTimeout(timer); socket.off('data', onData); socket.off('error', fail); socket.off('close', onClose) }
      const fail = (err: Error): void => { cleanup(); socket.destroy(); reject(err) }
      const onData = (d: Buffer): void => {
        cleanup()
        if (d[0] !== ACCEPTED) { socket.destroy(); reject(new Error('ticket refused')); return }
        socket.pause()
        resolve(d.subarray(1))
      }
      const onClose = (): void => { fail(new Error('closed before answering')) }
      socket.on('data', onData)
      socket.on('error', fail)
      socket.on('close', onClose)
      socket.write(ticket)
    })
    if (this.server == null) { socket.destroy(); throw new Error('direct links stopped') }
    const s = new SocketStream(socket, keys, MAX_RECORD_BYTES, rest)
    this.own(peerId, socket, s)
    socket.resume()
    this.failedAt.delete(peerId)
    return s
  }

  private issueTicket (from: string, request: Uint8Array): Uint8Array {
    const protocol = Buffer.from(request).toString()
    if (!this.acceptors.has(protocol)) throw new Error(`no direct links for ${JSON.stringify(protocol.slice(0, 100))}`)
    const now = this.now()
    for (const [k, t] of this.tickets) if (t.expires <= now) this.tickets.delete(k)
    if (this.tickets.size >= MAX_TICKETS) throw new Error('too many direct-link tickets outstanding')
    const out = new Uint8Array(TICKET_REPLY_BYTES)
    out[0] = this.port >> 8; out[1] = this.port & 0xff
    out.set(randomBytes(TICKET_BYTES + 2 * LINK_KEY_BYTES), 2)
    const ticket = out.subarray(2, 2 + TICKET_BYTES)
    // the opener sends with the first key; we send with the second
    const keys = { receive: out.slice(2 + TICKET_BYTES, 2 + TICKET_BYTES + LINK_KEY_BYTES), send: out.slice(2 + TICKET_BYTES + LINK_KEY_BYTES) }
    this.tickets.set(Buffer.from(ticket).toString('hex'), { peerId: from, protocol, keys, expires: now + TICKET_TTL_MS })
    return out
  }

  private own (peerId: string, socket: Socket, stream: SocketStream): void {
    let set = this.byPeer.get(peerId)
    if (set == null) { set = new Set(); this.byPeer.set(peerId, set) }
    set.add(stream)
    socket.once('close', () => {
      set.delete(stream)
      if (set.size === 0 && this.byPeer.get(peerId) === set) this.byPeer.delete(peerId)
    })
  }

  private dropPeer (peerId: string): void {
    const set = this.byPeer.get(peerId)
    if (set == null) return
    this.byPeer.delete(peerId)
    // aborted now, not at the sockets' close events: a message sent after this opens a new link
    for (const s of set) s.abort(new Error('the libp2p connection to the peer closed'))
  }

  /** An incoming socket: its first 32 bytes are a ticket we issued, or it is closed. */
  private accept (socket: Socket): void {
    if (this.unidentified.size >= MAX_UNIDENTIFIED_SOCKETS) { socket.destroy(); return }
    this.unidentified.add(socket)
    socket.setNoDelay(true)
    socket.setKeepAlive(true)
    let buf: Buffer = Buffer.alloc(0)
    const timer = setTimeout(() => { socket.destroy() }, HELLO_TIMEOUT_MS)
    const done = (): void => { clearTimeout(timer); this.unidentified.delete(socket); socket.off('data', onData) }
    const onData = (d: Buffer): void => {
      buf = buf.byteLength === 0 ? d : Buffer.concat([buf, d])
      if (buf.byteLength < TICKET_BYTES) return
      done()
      socket.pause()
      const key = buf.subarray(0, TICKET_BYTES).toString('hex')
      const t = this.tickets.get(key)
      this.tickets.delete(key)
      const acceptor = t == null ? undefined : this.acceptors.get(t.protocol)
      if (t == null || t.expires <= this.now() || acceptor == null) {
        this.refused++
        this.log.warn(`direct link refused from ${socket.remoteAddress ?? '?'}: ${t == null || t.expires <= this.now() ? 'unknown or expired ticket' : `no handler for ${t.protocol}`}`)
        socket.end(Buffer.from([0]))
        return
      }
      socket.write(Buffer.from([ACCEPTED]))
      const s = new SocketStream(socket, t.keys, MAX_RECORD_BYTES, buf.subarray(TICKET_BYTES))
      this.own(t.peerId, socket, s)
      socket.resume()
      acceptor(s, t.peerId)
    }
    socket.on('data', onData)
    socket.on('error', () => {})
    socket.once('close', () => { done() })
  }
}
