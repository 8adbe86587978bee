// Request/response and one-way messages over libp2p streams, for one protocol.
//
// Throughput design: ONE long-lived stream per (peer, direction). Our requests and one-way messages
// to a peer share the stream we opened; the peer answers on that same stream, matching answers to
// requests by id, so many requests are in flight at once (pipelining) and no per-message stream
// negotiation is paid. Frames queued together go out in one muxer write. When a stream fails, its
// waiting requests fail with ChannelClosedError and the next call opens a new stream (reconnect).
//
//   const ch = new FramedChannel(host.libp2p, EXEC_PROTOCOL, { onMessage: (peer, bytes) => reply, log })
//   await ch.start()
//   const answer = await ch.request(peerId, bytes, { timeoutMs: 2000 })
//
// The channel is payload-agnostic: it moves Uint8Array frames; callers encode (src/protocol/codec.ts).
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, Stream } from '@libp2p/interface'
import { MAX_FRAME_BYTES } from '../../protocol/limits.js'
import { ChannelClosedError, FrameTooLargeError, InvalidChannelOptionError, PeerUnreachableError } from './errors.js'
import { MAX_HEADER_BYTES } from './frame.js'
import { InboundStream, type MessageHandler } from './inbound.js'
import { OutboundStream } from './outbound.js'
import type { ByteStream } from './socket-stream.js'
import type { DirectLinks } from './direct.js'
import type { Logger } from '../host/log.js'

export type { MessageHandler } from './inbound.js'

export interface FramedChannelInit {
  /** largest frame (header + payload) sent or accepted; bigger ones are refused @default MAX_FRAME_BYTES (4 MiB) */
  maxFrameBytes?: number
  /** called for every one-way message and request; a request's answer is the return value (undefined → empty) */
  onMessage: MessageHandler
  log: Logger
  /** requests awaiting a response per peer; further request() calls wait for a slot @default 1024 */
  maxInFlight?: number
  /** handlers running at once per inbound stream before we stop reading from it @default 1024 */
  maxInboundPending?: number
  /** queued bytes per stream above which send() waits @default 8 MiB */
  highWaterBytes?: number
  /** bound on opening a stream (including dialing the peer) @default 5000 */
  openTimeoutMs?: number
  /** request timeout when the caller gives none @default 10000 */
  defaultTimeoutMs?: number
  /** open and accept streams over direct sockets when the peer offers them (direct.ts) */
  direct?: DirectLinks
}

export interface RequestOptions {
  timeoutMs?: number
}

export class FramedChannel {
  private readonly maxFrameBytes: number
  private readonly maxPayload: number
  private readonly out = new Map<string, OutboundStream | Promise<OutboundStream>>()
  private readonly inbound = new Set<InboundStream>()
  private started = false

  constructor (private readonly libp2p: Libp2p<any>, readonly protocol: string, private readonly init: FramedChannelInit) {
    this.maxFrameBytes = init.maxFrameBytes ?? MAX_FRAME_BYTES
    if (!Number.isInteger(this.maxFrameBytes) || this.maxFrameBytes <= MAX_HEADER_BYTES) {
      throw new InvalidChannelOptionError('maxFrameBytes', `must be an integer > ${MAX_HEADER_BYTES}, got ${String(init.maxFrameBytes)}`)
    }
    this.maxPayload = this.maxFrameBytes - MAX_HEADER_BYTES
  }

  async start (): Promise<void> {
    if (this.started) return
    await this.libp2p.handle(this.protocol, ({ stream, connection }) => {
      this.accept(stream as unknown as ByteStream, connection.remotePeer.toString())
    }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
    this.init.direct?.register(this.protocol, (stream, peerId) => { this.accept(stream, peerId) })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.init.direct?.unregister(this.protocol)
    await this.libp2p.unhandle(this.protocol)
    for (const o of this.out.values()) if (o instanceof OutboundStream) o.close('channel stopped')
    this.out.clear()
    for (const i of [...this.inbound]) i.close()
    this.inbound.clear()
  }

  /** One-way message. Resolves once queued on the stream; delivery is best-effort (lost if the stream dies). */
  async send (peerId: string, bytes: Uint8Array): Promise<void> {
    this.checkSize(peerId, bytes)
    await this.withStream(peerId, async o => { await o.send(bytes) })
  }

  async request (peerId: string, bytes: Uint8Array, opts: RequestOptions = {}): Promise<Uint8Array> {
    this.checkSize(peerId, bytes)
    const timeoutMs = opts.timeoutMs ?? this.init.defaultTimeoutMs ?? 10_000
    return await this.withStream(peerId, async o => await o.request(bytes, timeoutMs))
  }

  /**
   * Runs `fn` on the peer's stream. If that stream turns out to be dead before anything was written
   * (it died between two calls), retries once on a fresh stream: nothing can be duplicated.
   */
  private async withStream<T> (peerId: string, fn: (o: OutboundStream) => Promise<T>): Promise<T> {
    // An open stream is used without an await first, so the frame is queued before the caller's
    // synchronous code goes on. Measured (issue 12, RC_RAFT_TRACE): the appends a Raft Ready sends
    // early were queued only after the driver had applied the entries, behind the planning pass
    // that the apply started, and left 0.3–0.9 ms late.
    const cur = this.out.get(peerId)
    const o = cur instanceof OutboundStream ? cur : await this.outbound(peerId)
    try {
      return await fn(o)
    } catch (err) {
      if (!(err instanceof ChannelClosedError) || !err.unsent || !this.started) throw err
      return await fn(await this.outbound(peerId))
    }
  }

  private checkSize (peerId: string, bytes: Uint8Array): void {
    if (bytes.byteLength > this.maxPayload) {
      this.init.log.warn(`framed ${this.protocol}: refusing to send ${bytes.byteLength} bytes to ${peerId}: over the ${this.maxFrameBytes}-byte frame cap`)
      throw new FrameTooLargeError(bytes.byteLength + MAX_HEADER_BYTES, this.maxFrameBytes)
    }
  }

  private outbound (peerId: string): OutboundStream | Promise<OutboundStream> {
    if (!this.started) throw new ChannelClosedError(peerId, this.protocol, 'channel not started')
    const cur = this.out.get(peerId)
    if (cur != null) return cur
    const opening = this.open(peerId).then(
      o => { if (this.out.get(peerId) === opening) this.out.set(peerId, o); return o },
      err => { if (this.out.get(peerId) === opening) this.out.delete(peerId); throw err }
    )
    this.out.set(peerId, opening)
    return opening
  }

  private async open (peerId: string): Promise<OutboundStream> {
    let stream: ByteStream | undefined
    const direct = this.init.direct
    if (direct != null) {
      try {
        stream = await direct.open(peerId, this.protocol, this.init.openTimeoutMs ?? 5000)
      } catch (err) {
        // unreachable over libp2p too: fail now rather than dial a second time
        if (err instanceof PeerUnreachableError) throw new ChannelClosedError(peerId, this.protocol, `could not open a stream: ${err.message}`)
        this.init.log.debug(`framed ${this.protocol}: no direct link to ${peerId} (${(err as Error).message}); using a libp2p stream`)
      }
    }
    if (stream == null) stream = await this.openLibp2p(peerId)
    if (!this.started) { stream.abort(new Error('channel stopped')); throw new ChannelClosedError(peerId, this.protocol, 'channel stopped') }
    return new OutboundStream(stream, {
      peerId,
      protocol: this.protocol,
      maxFrameBytes: this.maxFrameBytes,
      maxInFlight: this.init.maxInFlight ?? 1024,
      highWaterBytes: this.init.highWaterBytes ?? 8 * 1024 * 1024,
      log: this.init.log,
      onClose: o => { if (this.out.get(peerId) === o) this.out.delete(peerId) }
    })
  }

  private async openLibp2p (peerId: string): Promise<ByteStream> {
    let stream: Stream
    try {
      stream = await this.libp2p.dialProtocol(peerIdFromString(peerId), this.protocol, {
        signal: AbortSignal.timeout(this.init.openTimeoutMs ?? 5000)
      })
    } catch (err) {
      throw new ChannelClosedError(peerId, this.protocol, `could not open a stream: ${(err as Error).message}`)
    }
    return stream as unknown as ByteStream
  }

  private accept (stream: ByteStream, peerId: string): void {
    if (!this.started) { stream.abort(new Error('channel stopped')); return }
    const s = new InboundStream(stream, {
      peerId,
      protocol: this.protocol,
      maxFrameBytes: this.maxFrameBytes,
      maxPending: this.init.maxInboundPending ?? 1024,
      highWaterBytes: this.init.highWaterBytes ?? 8 * 1024 * 1024,
      onMessage: this.init.onMessage,
      log: this.init.log,
      onClose: i => { this.inbound.delete(i) }
    })
    this.inbound.add(s)
  }
}
