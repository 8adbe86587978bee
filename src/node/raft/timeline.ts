// A per-node timeline of the Raft driver, for finding where a consensus round spends its time
// (issue 12): with RC_RAFT_TRACE=<path prefix> every Ready handed out (its entries, commits and
// messages), every fsync start/finish, every Ready finished and every message received is appended
// to <prefix>.<last 6 chars of the node id>, one line each, with a wall-clock ms timestamp that is
// comparable across processes on one machine. `sort -n <prefix>.*` merges the nodes. Off (the
// default), a call is one branch.
import { appendFileSync } from 'node:fs'
import type { Message, Ready } from '../../protocol/raft/types.js'

const PREFIX = process.env.RC_RAFT_TRACE
export const TIMELINE_ON = PREFIX !== undefined && PREFIX !== ''

const buffers = new Map<string, string[]>()

function flush (id: string, lines: string[]): void {
  if (lines.length === 0) return
  appendFileSync(`${PREFIX!}.${id.slice(-6)}`, lines.join('\n') + '\n')
  lines.length = 0
}

if (TIMELINE_ON) process.on('exit', () => { for (const [id, lines] of buffers) flush(id, lines) })

export function timeline (id: string, what: string): void {
  if (!TIMELINE_ON) return
  let lines = buffers.get(id)
  if (lines === undefined) buffers.set(id, lines = [])
  lines.push(`${(performance.timeOrigin + performance.now()).toFixed(3)} ${id.slice(-6)} ${what}`)
  if (lines.length >= 256) flush(id, lines)
}

const short = (id: string): string => id.slice(-4)

export function describeMessage (m: Message): string {
  return `${m.type} ${short(m.from)}>${short(m.to)} idx=${m.index ?? ''} n=${m.entries?.length ?? 0} commit=${m.commit ?? ''}${m.reject === true ? ' reject' : ''}`
}

export function describeReady (rd: Ready, pending: number): string {
  const idx = (es: Array<{ index: number }>): string => es.length === 0 ? '-' : `${es[0]!.index}..${es[es.length - 1]!.index}`
  return `ready pending=${pending} entries=${idx(rd.entries)} committed=${idx(rd.committedEntries)} commit=${rd.hardState?.commit ?? '-'} msgs=[${rd.messages.map(m => `${m.type}>${short(m.to)}:${m.index ?? ''}/${m.entries?.length ?? 0}c${m.commit ?? ''}`).join(' ')}]`
}
