// One long-lived stream this node opened to a peer for one protocol: it carries our ONEWAY and
// REQUEST frames, and the peer's RESPONSE / ERROR frames come back on it, matched by request id.
// Requests are pipelined; `maxInFlight` bounds how many wait for a response at once.
import type { ByteStream } from './socket-stream.js'
import { ChannelClosedError, MalformedFrameError, RemoteHandlerError, RequestTimeoutError } from './errors.js'
import { KIND_ERROR, KIND_ONEWAY, KIND_REQUEST, KIND_RESPONSE, parseFrame, readFrames } from './frame.js'
import { FrameWriter } from './frame-writer.js'
import type { Logger } from '../host/log.js'

interface Pending {
  resolve: (bytes: Uint8Array) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export interface OutboundInit {
  peerId: string
  protocol: string
  maxFrameBytes: number
  maxInFlight: number
  highWaterBytes: number
  log: Logger
  /** called once when the stream ends for any reason */
  onClose: (s: OutboundStream) => void
}

const decoder = new TextDecoder()

export class OutboundStream {
  closed = false
  private readonly writer: FrameWriter
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private slotWaiters: Array<() => void> = []
  private slotHead = 0

  constructor (private readonly stream: ByteStream, private readonly init: OutboundInit) {
    this.writer = new FrameWriter(init.highWaterBytes)
    stream.sink(this.writer.source()).catch(err => { this.close(`write failed: ${(err as Error).message}`, err) })
    void this.readResponses()
  }

  /** Queues a one-way frame, first waiting while the write queue is over its high-water mark. */
  async send (payload: Uint8Array): Promise<void> {
    if (!this.writer.writable) await this.writer.whenWritable()
    this.checkOpen()
    if (this.closed) throw this.closedError('closed before the message was queued', true)
    this.writer.push({ kind: KIND_ONEWAY, id: 0, payload })
  }

  async request (payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    while (this.pending.size >= this.init.maxInFlight && !this.closed) {
      await new Promise<void>(resolve => { this.slotWaiters.push(resolve) })
    }
    this.checkOpen()
    if (this.closed) throw this.closedError('closed before the request was sent', true)
    const id = this.nextId
    this.nextId = this.nextId === 0xffffffff ? 1 : this.nextId + 1
    return await new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) { this.releaseSlot(); reject(new RequestTimeoutError(this.init.peerId, this.init.protocol, timeoutMs)) }
      }, timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
      this.writer.push({ kind: KIND_REQUEST, id, payload })
    })
  }

  /** a stream found dead (e.g. its connection went) closes before anything more is queued on it */
  private checkOpen (): void {
    if (!this.closed && this.stream.status !== 'open') this.close(`stream ${this.stream.status}`)
  }

  /** Ends the stream (reset) and fails every request still waiting. Idempotent. */
  close (reason: string, err?: Error): void {
    if (this.closed) return
    this.closed = true
    this.writer.close()
    const e = this.closedError(reason)
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(e) }
    this.pending.clear()
    this.releaseAllSlots()
    if (this.stream.status === 'open') this.stream.abort(err ?? e)
    this.init.onClose(this)
  }

  private async readResponses (): Promise<void> {
    try {
      for await (const frame of readFrames(this.stream, this.init.maxFrameBytes)) {
        this.onFrame(frame)
      }
      this.close('remote closed the stream')
    } catch (err) {
      if (this.closed) return // we closed it ourselves
      this.init.log.warn(`framed ${this.init.protocol}: resetting stream to ${this.init.peerId}: ${(err as Error).message}`)
      this.close((err as Error).message, err as Error)
    }
  }

  private onFrame (bytes: Uint8Array): void {
    const f = parseFrame(bytes)
    if (f.kind !== KIND_RESPONSE && f.kind !== KIND_ERROR) throw new MalformedFrameError(`kind ${f.kind} on a response stream`)
    const p = this.pending.get(f.id)
    if (p == null) {
      // late answer to a request that already timed out: harmless
      this.init.log.debug(`framed ${this.init.protocol}: response ${f.id} from ${this.init.peerId} matches no pending request`)
      return
    }
    this.pending.delete(f.id)
    clearTimeout(p.timer)
    this.releaseSlot()
    if (f.kind === KIND_RESPONSE) p.resolve(f.payload)
    else p.reject(new RemoteHandlerError(this.init.peerId, this.init.protocol, decoder.decode(f.payload)))
  }

  private releaseSlot (): void {
    if (this.slotHead === this.slotWaiters.length) return
    const w = this.slotWaiters[this.slotHead++]
    if (this.slotHead === this.slotWaiters.length) { this.slotWaiters = []; this.slotHead = 0 }
    w()
  }

  private releaseAllSlots (): void {
    const ws = this.slotWaiters.slice(this.slotHead)
    this.slotWaiters = []
    this.slotHead = 0
    for (const w of ws) w()
  }

  private closedError (reason: string, unsent = false): ChannelClosedError {
    return new ChannelClosedError(this.init.peerId, this.init.protocol, reason, unsent)
  }
}
