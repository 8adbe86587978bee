// A TCP socket seen as the part of a libp2p Stream our framed channel uses (sink, source, status,
// abort), so InboundStream / OutboundStream run unchanged over a direct link (direct.ts).
//
// Every write is one sealed record: `[u32be n][n bytes of ChaCha20-Poly1305 ciphertext][16-byte
// tag]`, the length as associated data, the nonce a per-direction counter. Each direction has its
// own key, fresh for this socket and handed over inside libp2p's Noise session, so a record that
// was altered, replayed, reordered or sent by anyone else fails its tag and resets the socket.
import { createCipheriv, createDecipheriv } from 'node:crypto'
import type { Socket } from 'node:net'

/** what InboundStream and OutboundStream need of a stream */
export interface ByteStream {
  readonly status: string
  sink (source: AsyncIterable<Uint8Array>): Promise<void>
  readonly source: AsyncIterable<Uint8Array>
  abort (err: Error): void
}

export const LINK_KEY_BYTES = 32
const CIPHER = 'chacha20-poly1305'
const TAG_BYTES = 16
const HEAD_BYTES = 4
/** stop reading from the socket while this much arrived and was not yet consumed */
const READ_HIGH_WATER = 1 << 20

export interface LinkKeys {
  send: Uint8Array
  receive: Uint8Array
}

export class SealedSocketError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SealedSocketError'
  }
}

export class SocketStream implements ByteStream {
  status: 'open' | 'closed' = 'open'
  private readonly opened: Uint8Array[] = []
  private openedHead = 0
  private openedBytes = 0
  private pending: Buffer[] = []
  private pendingBytes = 0
  private paused = false
  private ended = false
  private error?: Error
  private wake?: () => void
  private sendCounter = 0n
  private receiveCounter = 0n
  private readonly nonce = Buffer.alloc(12)

  /**
   * @param first bytes that arrived with the handshake, already read off the socket
   * @param maxRecordBytes largest record accepted; a bigger length resets the socket unread
   */
  constructor (private readonly socket: Socket, private readonly keys: LinkKeys, private readonly maxRecordBytes: number, first?: Uint8Array) {
    socket.on('data', (d: Buffer) => { this.onData(d) })
    socket.on('end', () => { this.ended = true; this.notify() })
    socket.on('error', err => { this.error ??= err; this.notify() })
    socket.on('close', () => { this.status = 'closed'; this.ended = true; this.notify() })
    if (first != null && first.byteLength > 0) this.onData(Buffer.from(first.buffer, first.byteOffset, first.byteLength))
  }

  private onData (d: Buffer): void {
    this.pending.push(d)
    this.pendingBytes += d.byteLength
    try {
      this.openRecords()
    } catch (err) {
      this.abort(err as Error)
      return
    }
    if (this.pendingBytes + this.openedBytes > READ_HIGH_WATER + this.maxRecordBytes && !this.paused) {
      this.paused = true
      this.socket.pause()
    }
    this.notify()
  }

  /** moves every whole record from `pending` to `opened`, checking its tag */
  private openRecords (): void {
    while (this.pendingBytes >= HEAD_BYTES) {
      if (this.pending[0].byteLength < HEAD_BYTES) this.pending = [Buffer.concat(this.pending)]
      const n = this.pending[0].readUInt32BE(0)
      if (n > this.maxRecordBytes) throw new SealedSocketError(`record of ${n} bytes is over the ${this.maxRecordBytes}-byte cap`)
      const total = HEAD_BYTES + n + TAG_BYTES
      if (this.pendingBytes < total) return
      if (this.pending[0].byteLength < total) this.pending = [Buffer.concat(this.pending)]
      const rec = this.pending[0]
      const d = createDecipheriv(CIPHER, this.keys.receive, this.nextNonce('receive'), { authTagLength: TAG_BYTES })
      d.setAAD(rec.subarray(0, HEAD_BYTES), { plaintextLength: n })
      d.setAuthTag(rec.subarray(HEAD_BYTES + n, total))
      const plain = d.update(rec.subarray(HEAD_BYTES, HEAD_BYTES + n))
      try {
        d.final()
      } catch {
        throw new SealedSocketError('a record failed its authentication tag')
      }
      if (rec.byteLength === total) this.pending.shift()
      else this.pending[0] = rec.subarray(total)
      this.pendingBytes -= total
      if (plain.byteLength > 0) { this.opened.push(plain); this.openedBytes += plain.byteLength }
    }
  }

  private nextNonce (dir: 'send' | 'receive'): Buffer {
    const c = dir === 'send' ? this.sendCounter++ : this.receiveCounter++
    this.nonce.writeBigUInt64BE(c, 4)
    return this.nonce
  }

  private seal (plain: Uint8Array): Buffer {
    const n = plain.byteLength
    const rec = Buffer.allocUnsafe(HEAD_BYTES + n + TAG_BYTES)
    rec.writeUInt32BE(n, 0)
    const c = createCipheriv(CIPHER, this.keys.send, this.nextNonce('send'), { authTagLength: TAG_BYTES })
    c.setAAD(rec.subarray(0, HEAD_BYTES), { plaintextLength: n })
    const ct = c.update(plain)
    c.final()
    ct.copy(rec, HEAD_BYTES)
    c.getAuthTag().copy(rec, HEAD_BYTES + n)
    return rec
  }

  private notify (): void {
    const w = this.wake
    if (w != null) { this.wake = undefined; w() }
  }

  get source (): AsyncIterable<Uint8Array> {
    return this.read()
  }

  private async * read (): AsyncGenerator<Uint8Array> {
    while (true) {
      if (this.openedHead < this.opened.length) {
        const c = this.opened[this.openedHead++]
        this.openedBytes -= c.byteLength
        if (this.openedHead === this.opened.length) { this.opened.length = 0; this.openedHead = 0 }
        if (this.paused && this.pendingBytes + this.openedBytes <= READ_HIGH_WATER) { this.paused = false; this.socket.resume() }
        yield c
        continue
      }
      if (this.error != null) throw this.error
      if (this.ended) {
        if (this.pendingBytes > 0) throw new SealedSocketError('the socket ended inside a record')
        return
      }
      await new Promise<void>(resolve => { this.wake = resolve })
    }
  }

  async sink (source: AsyncIterable<Uint8Array>): Promise<void> {
    for await (const chunk of source) {
      if (this.status !== 'open') throw new Error('socket closed')
      for (let o = 0; o < chunk.byteLength; o += this.maxRecordBytes) {
        if (!this.socket.write(this.seal(chunk.subarray(o, o + this.maxRecordBytes)))) await this.drained()
      }
    }
    this.socket.end()
  }

  private async drained (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const done = (): void => { this.socket.off('close', closed); resolve() }
      const closed = (): void => { this.socket.off('drain', done); reject(new Error('socket closed')) }
      this.socket.once('drain', done)
      this.socket.once('close', closed)
    })
  }

  abort (err: Error): void {
    if (this.status === 'closed') return
    this.status = 'closed'
    this.error ??= err
    this.socket.destroy()
    this.notify()
  }
}
