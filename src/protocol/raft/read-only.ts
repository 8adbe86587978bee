// ReadIndex bookkeeping on the leader (etcd's readOnly, "safe" mode): each request records the commit
// index at arrival; it is released once a quorum acknowledged a heartbeat sent after it, proving the
// leader was still leader when the request arrived (Raft thesis §6.4).
import type { Message, NodeId } from './types.js'

export interface ReadIndexStatus { req: Message, index: number, acks: Set<NodeId> }

export function contextKey (ctx: Uint8Array): string {
  let s = ''
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i])
  return s
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>()
  /** keys in arrival order; bounded by the number of outstanding reads (cleared on role change) */
  private queue: string[] = []

  /** false if a request with the same context is already pending */
  add (index: number, req: Message, ctx: Uint8Array): boolean {
    const key = contextKey(ctx)
    if (this.pending.has(key)) return false
    this.pending.set(key, { req, index, acks: new Set() })
    this.queue.push(key)
    return true
  }

  /** record an ack; returns the ack set, or undefined if the context is unknown */
  recvAck (from: NodeId, ctx: Uint8Array): Set<NodeId> | undefined {
    const st = this.pending.get(contextKey(ctx))
    if (st === undefined) return undefined
    st.acks.add(from)
    return st.acks
  }

  /** release every request up to and including the one with ctx */
  advance (ctx: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(ctx)
    const at = this.queue.indexOf(key)
    if (at < 0) return []
    const done = this.queue.slice(0, at + 1)
    this.queue = this.queue.slice(at + 1)
    const out: ReadIndexStatus[] = []
    for (const k of done) {
      const st = this.pending.get(k)
      if (st !== undefined) { out.push(st); this.pending.delete(k) }
    }
    return out
  }

  lastPendingContext (): Uint8Array | undefined {
    const k = this.queue[this.queue.length - 1]
    if (k === undefined) return undefined
    return this.pending.get(k)?.req.context
  }

  reset (): void { this.pending.clear(); this.queue = [] }
}
