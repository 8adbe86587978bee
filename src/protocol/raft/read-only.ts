// ReadIndex bookkeeping on the leader (etcd's readOnly, "safe" mode): each request records the last
// index of the leader's log at arrival (not the commit index: see startReadIndex); it is released once a quorum acknowledged a heartbeat sent after it, proving the
// leader was still leader when the request arrived (Raft thesis §6.4). Below the class: the leader's
// handling of a read, from the request to the ReadState or readIndexResp.
import type { Message, NodeId } from './types.js'
import type { Raft } from './raft.js'
import { bcastHeartbeat } from './replication.js'

const EMPTY = new Uint8Array(0)

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
  /** requests received before this leader committed an entry of its term (thesis §6.4) */
  private waiting: Message[] = []

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

  /** hold a request until the leader knows its commit index */
  wait (req: Message): void { this.waiting.push(req) }

  /** the held requests, in arrival order; none are held afterwards */
  takeWaiting (): Message[] {
    const w = this.waiting
    this.waiting = []
    return w
  }

  get waitingCount (): number { return this.waiting.length }

  reset (): void { this.pending.clear(); this.queue = []; this.waiting = [] }
}

/** A read request at the leader, from the local caller or from a follower. */
export function handleReadIndex (r: Raft, m: Message): void {
  if (m.context === undefined || m.context.length === 0) return
  if (r.trk.isSoleVoter()) { respondReadIndex(r, m, r.log.committed); return }
  // A fresh leader does not know the commit index until it commits an entry of its own term.
  if (r.log.term(r.log.committed) !== r.term) { r.readOnly.wait(m); return }
  startReadIndex(r, m)
}

/** Called when the leader commits the first entry of its term: serve the reads that waited for it. */
export function releaseWaitingReads (r: Raft): void {
  if (r.readOnly.waitingCount === 0) return
  for (const m of r.readOnly.takeWaiting()) startReadIndex(r, m)
}

function startReadIndex (r: Raft, m: Message): void {
  const ctx = m.context as Uint8Array
  // The read waits for everything this leader has appended, not only what it knows committed: a
  // follower may have committed (and shown a client) an entry whose acknowledgement has not reached
  // us yet (commit-inference.ts), and every such entry is in our log. Found by the driver simulator
  // (seed 7): a read at the leader's commit index 10 after a follower had applied 11.
  if (!r.readOnly.add(r.log.lastIndex(), m, ctx)) return
  r.readOnly.recvAck(r.id, ctx)
  bcastHeartbeat(r, ctx)
}

/** A heartbeat answer echoing a read context: release the reads a quorum of voters has confirmed. */
export function recvReadAck (r: Raft, m: Message): void {
  if (m.context === undefined || m.context.length === 0) return
  const acks = r.readOnly.recvAck(m.from, m.context)
  if (acks === undefined) return
  let votersAcked = 0
  for (const id of acks) if (r.trk.voters.has(id)) votersAcked++
  if (votersAcked < r.trk.quorum()) return
  for (const st of r.readOnly.advance(m.context)) respondReadIndex(r, st.req, st.index)
}

function respondReadIndex (r: Raft, req: Message, index: number): void {
  const ctx = req.context ?? EMPTY
  if (req.from === r.id) r.readStates.push({ index, context: ctx })
  else r.send({ type: 'readIndexResp', to: req.from, index, context: ctx })
}
