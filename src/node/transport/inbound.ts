// A stream a peer opened to us: its ONEWAY and REQUEST frames go to the handler; answers go back on
// the same stream. At most `maxPending` handlers run at once per stream; beyond that we stop reading,
// which pushes back on the sender through the muxer's flow control.
import type { ByteStream } from './socket-stream.js'
import { MalformedFrameError } from './errors.js'
import { KIND_ERROR, KIND_REQUEST, KIND_RESPONSE, MAX_HEADER_BYTES, parseFrame, readFrames } from './frame.js'
import { FrameWriter } from './frame-writer.js'
import type { Logger } from '../host/log.js'

export type MessageHandler = (peerId: string, bytes: Uint8Array) => Promise<Uint8Array | undefined> | Uint8Array | undefined

export interface InboundInit {
  peerId: string
  protocol: string
  maxFrameBytes: number
  maxPending: number
  highWaterBytes: number
  onMessage: MessageHandler
  log: Logger
  onClose: (s: InboundStream) => void
}

const EMPTY = new Uint8Array(0)
const encoder = new TextEncoder()
/** remote error messages are for humans; keep them short */
const MAX_ERROR_TEXT = 1024

export class InboundStream {
  private readonly writer: FrameWriter
  private pendingHandlers = 0
  private resumeReading?: () => void
  private closed = false
  private ending = false

  constructor (private readonly stream: ByteStream, private readonly init: InboundInit) {
    this.writer = new FrameWriter(init.highWaterBytes)
    stream.sink(this.writer.source()).catch(err => { this.close(err as Error) })
    void this.read()
  }

  close (err?: Error): void {
    if (this.closed) return
    this.closed = true
    this.writer.close()
    if (this.stream.status === 'open') {
      if (err != null) this.stream.abort(err)
      else this.stream.abort(new Error('channel stopped'))
    }
    this.resumeReading?.()
    this.init.onClose(this)
  }

  private async read (): Promise<void> {
    try {
      for await (const frame of readFrames(this.stream, this.init.maxFrameBytes)) {
        this.onFrame(frame)
        if (this.pendingHandlers >= this.init.maxPending) {
          await new Promise<void>(resolve => { this.resumeReading = resolve })
          if (this.closed) return
        }
      }
      // The opener ended its side: finish answering what is running, then end ours.
      this.ending = true
      if (this.pendingHandlers === 0) this.finish()
    } catch (err) {
      if (this.closed) return // we closed it ourselves
      this.init.log.warn(`framed ${this.init.protocol}: resetting stream from ${this.init.peerId}: ${(err as Error).message}`)
      this.close(err as Error)
    }
  }

  private onFrame (bytes: Uint8Array): void {
    const f = parseFrame(bytes)
    if (f.kind === KIND_RESPONSE || f.kind === KIND_ERROR) throw new MalformedFrameError(`kind ${f.kind} on a request stream`)
    let result: Promise<Uint8Array | undefined> | Uint8Array | undefined
    try {
      result = this.init.onMessage(this.init.peerId, f.payload)
    } catch (err) {
      this.onHandlerError(f.kind, f.id, err)
      return
    }
    if (result instanceof Promise) {
      this.pendingHandlers++
      result.then(
        r => { this.handlerDone(); this.reply(f.kind, f.id, r) },
        err => { this.handlerDone(); this.onHandlerError(f.kind, f.id, err) }
      )
    } else {
      this.reply(f.kind, f.id, result)
    }
  }

  private finish (): void {
    this.writer.close()
    this.init.onClose(this)
  }

  private handlerDone (): void {
    this.pendingHandlers--
    if (this.ending && this.pendingHandlers === 0) queueMicrotask(() => { this.finish() })
    const r = this.resumeReading
    if (r != null && this.pendingHandlers < this.init.maxPending) { this.resumeReading = undefined; r() }
  }

  private reply (kind: number, id: number, result: Uint8Array | undefined): void {
    if (kind !== KIND_REQUEST || this.closed) return
    const payload = result ?? EMPTY
    if (payload.byteLength > this.init.maxFrameBytes - MAX_HEADER_BYTES) {
      this.init.log.error(`framed ${this.init.protocol}: response of ${payload.byteLength} bytes to ${this.init.peerId} is over the frame cap; sending an error instead`)
      this.writer.push({ kind: KIND_ERROR, id, payload: encoder.encode(`response of ${payload.byteLength} bytes is over the ${this.init.maxFrameBytes}-byte frame cap`) })
      return
    }
    this.writer.push({ kind: KIND_RESPONSE, id, payload })
  }

  private onHandlerError (kind: number, id: number, err: unknown): void {
    const msg = err instanceof Error ? err.message : String(err)
    if (kind !== KIND_REQUEST) {
      this.init.log.warn(`framed ${this.init.protocol}: handler failed on a message from ${this.init.peerId}: ${msg}`)
      return
    }
    if (this.closed) return
    this.writer.push({ kind: KIND_ERROR, id, payload: encoder.encode(msg.slice(0, MAX_ERROR_TEXT)) })
  }
}
