// Framing inside one length-prefixed frame: `[kind u8][id u32be]? payload`.
// The stream opener sends ONEWAY and REQUEST frames; the acceptor answers on the same stream with
// RESPONSE / ERROR frames carrying the request's id. Ids are per stream, so 32 bits never collide
// among in-flight requests (bounded far below 2^32).
import * as lp from 'it-length-prefixed'
import type { ByteStream } from './socket-stream.js'
import { MalformedFrameError } from './errors.js'

export const KIND_ONEWAY = 0
export const KIND_REQUEST = 1
export const KIND_RESPONSE = 2
export const KIND_ERROR = 3

/** bytes before the payload for a frame of this kind */
export function headerBytes (kind: number): number {
  return kind === KIND_ONEWAY ? 1 : 5
}

/** The largest header: payloads are capped at maxFrameBytes - MAX_HEADER_BYTES. */
export const MAX_HEADER_BYTES = 5

export interface OutFrame {
  kind: number
  id: number
  payload: Uint8Array
}

export interface InFrame {
  kind: number
  id: number
  payload: Uint8Array
}

export function parseFrame (bytes: Uint8Array): InFrame {
  if (bytes.byteLength < 1) throw new MalformedFrameError('empty frame')
  const kind = bytes[0]
  if (kind === KIND_ONEWAY) return { kind, id: 0, payload: bytes.subarray(1) }
  if (kind > KIND_ERROR) throw new MalformedFrameError(`unknown kind ${kind}`)
  if (bytes.byteLength < 5) throw new MalformedFrameError(`kind ${kind} frame shorter than its 5-byte header`)
  const id = ((bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4]) >>> 0
  return { kind, id, payload: bytes.subarray(5) }
}

function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 128); len++ }
  return len
}

/**
 * Encodes many frames, each length-prefixed (unsigned varint, as it-length-prefixed reads), into ONE
 * buffer: one allocation and one muxer write per batch instead of three per message.
 */
export function encodeBatch (frames: OutFrame[], start: number, end: number): Uint8Array {
  let total = 0
  for (let i = start; i < end; i++) {
    const f = frames[i]
    const len = headerBytes(f.kind) + f.payload.byteLength
    total += varintLength(len) + len
  }
  const out = new Uint8Array(total)
  let o = 0
  for (let i = start; i < end; i++) {
    const f = frames[i]
    let len = headerBytes(f.kind) + f.payload.byteLength
    while (len >= 0x80) { out[o++] = (len & 0x7f) | 0x80; len = Math.floor(len / 128) }
    out[o++] = len
    out[o++] = f.kind
    if (f.kind !== KIND_ONEWAY) {
      out[o++] = f.id >>> 24; out[o++] = (f.id >>> 16) & 0xff; out[o++] = (f.id >>> 8) & 0xff; out[o++] = f.id & 0xff
    }
    out.set(f.payload, o)
    o += f.payload.byteLength
  }
  return out
}

/**
 * The stream's frames; a length prefix over maxFrameBytes throws (InvalidDataLengthError) before the
 * frame is buffered, so an oversized frame costs the reader nothing.
 */
export async function * readFrames (stream: ByteStream, maxFrameBytes: number): AsyncGenerator<Uint8Array> {
  // cast: two copies of uint8arraylist in node_modules make otherwise identical types incompatible
  const source = stream.source as unknown as AsyncIterable<Uint8Array>
  for await (const frame of lp.decode(source, { maxDataLength: maxFrameBytes })) yield frame.subarray()
}
