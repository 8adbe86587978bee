// Splitting a big batch into submit chunks (see BatchChunk in src/sched/commands.ts for how the
// state machine stages and seals them). A chunk must fit one client frame (MAX_FRAME_BYTES) and,
// once the leader batches it with other commands, one Raft entry (MAX_ENTRY_DATA_BYTES); it should
// also be small enough that applying it never stalls the event loop. So chunks are cut by encoded
// size AND by count, well under the caps.
import { encodeValue } from '../../protocol/codec.js'
import { MAX_FRAME_BYTES } from '../../protocol/limits.js'
import type { TaskData } from '../../sched/types.js'

/** Encoded bytes per chunk (512 KiB): far under the caps, and small enough that staging one chunk holds up other work for a fraction of a second. */
export const CHUNK_TARGET_BYTES = Math.floor(MAX_FRAME_BYTES / 8)
/** Tasks per chunk: a 10,000-task batch goes in 10 commands; each applies in a few ms. */
export const CHUNK_MAX_TASKS = 1000

/** Cuts tasks into consecutive chunks; one chunk when everything fits (the common case). */
export function planChunks (tasks: readonly TaskData[], targetBytes = CHUNK_TARGET_BYTES, maxTasks = CHUNK_MAX_TASKS): TaskData[][] {
  const out: TaskData[][] = []
  let cur: TaskData[] = []
  let bytes = 0
  for (const t of tasks) {
    // msgpack size of the task as it travels (+ a little framing per array element)
    const size = encodeValue(t).byteLength + 4
    if (cur.length > 0 && (bytes + size > targetBytes || cur.length >= maxTasks)) {
      out.push(cur)
      cur = []
      bytes = 0
    }
    cur.push(t)
    bytes += size
  }
  if (cur.length > 0) out.push(cur)
  return out
}
