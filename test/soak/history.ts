// The soak's history: every client operation, every nemesis action and every observation, in the order
// they happened, one JSON object a line (history.jsonl in the run dir). The checker reads only this
// file and the final state, so a failing run can be re-checked (and re-run with its seed) later.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'

export interface TaskSpec {
  taskType: 'echo' | 'sleep'
  payload: Record<string, unknown>
  priority: number
  /** absent: a keyless submission (tried once: a retry would be a second task); it may run before it commits */
  idempotencyKey?: string
}

/** One line of the history. `t` is ms since the epoch (every process runs on this machine's clock). */
export type HistoryEvent =
  | { t: number, type: 'run', seed: number, nodes: number, config: Record<string, unknown> }
  // a submission: `invoke` once per attempt to reach a node; `ok` (acknowledged with an id) or `fail`
  // (refused or unknown: the task may still exist, the idempotency key makes a retry safe)
  | { t: number, type: 'invoke', op: number, try: number, node: string, spec: TaskSpec }
  | { t: number, type: 'ok', op: number, try: number, node: string, id: string, via?: 'stream' }
  | { t: number, type: 'fail', op: number, try: number, node: string, error: string, definite: boolean }
  // a status read of an acknowledged task
  | { t: number, type: 'read', id: string, node: string, status: string, deviceId?: string, replacedBy?: string }
  // the waiter saw the end of a task's failover chain in a terminal state
  | { t: number, type: 'final', op: number, id: string, lastId: string, status: string, node: string }
  | { t: number, type: 'nemesis', phase: 'start' | 'end' | 'info', kind: string, node?: string, detail?: string }
  | { t: number, type: 'leader', node: string, peerId: string }
  | { t: number, type: 'heal', phase: 'all-healed' | 'workload-stopped' | 'settled' }
  // the bound's allowance for the sleeps still to run once healed (see run.ts backlogAllowanceMs)
  | { t: number, type: 'heal', phase: 'backlog', allowanceMs: number }

export class HistoryWriter {
  private buf: string[] = []
  readonly events: HistoryEvent[] = []

  constructor (readonly path: string) { writeFileSync(path, '') }

  add (e: HistoryEvent): void {
    this.events.push(e)
    this.buf.push(JSON.stringify(e))
    // flush often enough that a crashed soak leaves most of its history behind
    if (this.buf.length >= 200) this.flush()
  }

  flush (): void {
    if (this.buf.length === 0) return
    appendFileSync(this.path, this.buf.join('\n') + '\n')
    this.buf = []
  }
}

export function readHistory (path: string): HistoryEvent[] {
  return readFileSync(path, 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l) as HistoryEvent)
}
