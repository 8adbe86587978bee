// A snapshot too big for one frame, sent in pieces. Raft's 'snap' message carried the whole state in
// one frame of at most MAX_RAFT_FRAME_BYTES (64 MiB): a follower behind the leader's compaction
// with a bigger state (a full retention reached 68 MB in the soak) was sent a message that could
// not be encoded, again at every retry, and never caught up. Now a 'snap' whose data is over
// SNAPSHOT_CHUNK_BYTES goes as 'snapChunk' frames — the message without its data, the offset, the
// total, a piece of the data — one after another, each sent once the one before is handed to the
// stream (heartbeats pass in between). The receiver puts one snapshot per sender together, in
// order, up to MAX_SNAPSHOT_TRANSFER_BYTES, and steps Raft with the whole message; a piece out of
// order or of another snapshot starts it over, and a transfer that stops coming is dropped.

import { encode } from '../../protocol/codec.js'
import { MAX_RAFT_FRAME_BYTES, MAX_SNAPSHOT_TRANSFER_BYTES, SNAPSHOT_CHUNK_BYTES } from '../../protocol/limits.js'
import type { Message } from '../../protocol/raft/types.js'

/** a transfer that gets no piece for this long is given up (its buffer freed) */
export const SNAPSHOT_TRANSFER_IDLE_MS = 30_000

export interface SnapChunk { msg: Message, offset: number, total: number, data: Uint8Array }

/** The frames that carry `m` (a 'snap'): one 'raft' frame when it fits in a chunk, else 'snapChunk' frames. */
export function snapshotFrames (m: Message, chunkBytes = SNAPSHOT_CHUNK_BYTES): Uint8Array[] {
  const snap = m.snapshot
  if (snap === undefined) throw new Error("not a 'snap' message")
  const data = snap.data // may read the snapshot from its file (SqliteStorage)
  if (data.byteLength <= chunkBytes) return [encode('raft', { ...m, snapshot: { meta: snap.meta, data } }, MAX_RAFT_FRAME_BYTES)]
  if (data.byteLength > MAX_SNAPSHOT_TRANSFER_BYTES) throw new Error(`a snapshot of ${data.byteLength} bytes is over the ${MAX_SNAPSHOT_TRANSFER_BYTES}-byte transfer cap`)
  const head: Message = { ...m, snapshot: { meta: snap.meta, data: new Uint8Array(0) } }
  const frames: Uint8Array[] = []
  for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
    const piece: SnapChunk = { msg: head, offset, total: data.byteLength, data: data.subarray(offset, offset + chunkBytes) }
    frames.push(encode('snapChunk', piece, MAX_RAFT_FRAME_BYTES))
  }
  return frames
}

interface Assembly { key: string, total: number, buf: Uint8Array, got: number, timer: ReturnType<typeof setTimeout> }

/** Puts chunked snapshots together, one per sender. */
export class SnapshotAssembler {
  private readonly bySender = new Map<string, Assembly>()

  constructor (private readonly idleMs = SNAPSHOT_TRANSFER_IDLE_MS) {}

  /**
   * One piece from `from` (its sender, checked by the caller against msg.from). Returns the whole
   * 'snap' message once its last piece is in, else undefined. Throws on a piece that cannot be part
   * of any transfer (the caller logs it; nothing changes).
   */
  add (from: string, c: SnapChunk): Message | undefined {
    const m = c.msg
    if (m.type !== 'snap' || m.snapshot === undefined) throw new Error(`a snapshot piece carrying a '${m.type}' message`)
    if (c.total > MAX_SNAPSHOT_TRANSFER_BYTES) throw new Error(`a snapshot of ${c.total} bytes is over the ${MAX_SNAPSHOT_TRANSFER_BYTES}-byte transfer cap`)
    if (c.offset + c.data.byteLength > c.total) throw new Error(`a snapshot piece at ${c.offset} of ${c.data.byteLength} bytes runs past its total of ${c.total}`)
    const key = `${m.term}/${m.snapshot.meta.index}/${m.snapshot.meta.term}/${c.total}`
    let a = this.bySender.get(from)
    if (a !== undefined && (a.key !== key || a.got !== c.offset)) { this.drop(from); a = undefined }
    if (a === undefined) {
      // only a first piece starts a transfer; a later one of a transfer we do not have is dropped
      // (the leader sends the whole snapshot again when its retry comes)
      if (c.offset !== 0) return undefined
      a = { key, total: c.total, buf: new Uint8Array(c.total), got: 0, timer: setTimeout(() => { this.drop(from) }, this.idleMs) }
      a.timer.unref?.()
      this.bySender.set(from, a)
    } else {
      a.timer.refresh()
    }
    a.buf.set(c.data, c.offset)
    a.got += c.data.byteLength
    if (a.got < a.total) return undefined
    this.drop(from)
    return { ...m, snapshot: { meta: m.snapshot.meta, data: a.buf } }
  }

  /** transfers under way (tests, debugging) */
  get pending (): number { return this.bySender.size }

  private drop (from: string): void {
    const a = this.bySender.get(from)
    if (a === undefined) return
    clearTimeout(a.timer)
    this.bySender.delete(from)
  }

  close (): void { for (const from of [...this.bySender.keys()]) this.drop(from) }
}
