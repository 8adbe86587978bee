// Per-task hop timestamps for the bench's latency breakdown (`npm run bench -- --mode latency`).
// Off unless the node runs with RC_TRACE=1: then every hop a task passes on this node (HTTP in,
// forwarded, proposed, applied, dispatched, run, reported, answered) is stamped with a wall-clock
// time in µs precision that is comparable across processes on one machine. Off, a mark is one branch.

export const TRACE_ON = process.env.RC_TRACE === '1'

/** tasks kept; beyond that new tasks are not traced (the bench reads and clears between runs) */
const MAX_TRACED_TASKS = 20_000

type Marks = Array<[hop: string, atMs: number]>
const marks = new Map<string, Marks>()

/** now, ms since the epoch with sub-ms precision (performance.timeOrigin is shared by nothing, but
 *  timeOrigin + now() is the wall clock, the same in every process on this machine) */
export function traceNow (): number { return performance.timeOrigin + performance.now() }

export function traceMark (taskId: string, hop: string, atMs?: number): void {
  if (!TRACE_ON) return
  let m = marks.get(taskId)
  if (m === undefined) {
    if (marks.size >= MAX_TRACED_TASKS) return
    m = []
    marks.set(taskId, m)
  }
  m.push([hop, atMs ?? traceNow()])
}

/** everything marked so far, then forgotten */
export function traceTake (): Record<string, Marks> {
  const out = Object.fromEntries(marks)
  marks.clear()
  return out
}
