// Splitting a big batch into submit chunks (see BatchChunk in src/sched/commands.ts for how the
// state machine stages and seals them). A chunk must fit one client frame (MAX_FRAME_BYTES) and,
// once the leader batches it with other commands, one Raft entry (MAX_ENTRY_DATA_BYTES); it should
// also be small enough that applying it never stalls the event loop. So chunks are cut by encoded
// size AND by count, well under the caps.
import { encodeValue } from '../../protocol/codec.js'
import { MAX_FRAME_BYTES } from '../../protocol/limits.js'
import type { TaskData } from '../../sched/types.js'

/** Encoded bytes per chunk: a quarter of the frame cap leaves room for other commands in the same entry. */
export const CHUNK_TARGET_BYTES = Math.floor(MAX_FRAME_BYTES / 4)
/** Tasks per chunk: a 10,000-task batch goes in 5 commands; each applies in a few ms. */
export const CHUNK_MAX_TASKS = 2000

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
