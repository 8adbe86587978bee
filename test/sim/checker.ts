// Invariant checkers, kept outside the code they check (as VOPR's state_checker). Each violation
// throws a SimViolation naming the invariant; the runner adds the seed.
import type { Entry, Message, NodeId, Ready, ReadState, Snapshot } from '../../src/protocol/raft/types.js'
import { LOCAL_MESSAGE_TYPES, type RawNode } from '../../src/protocol/raft/raw-node.js'
import type { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'

/** What the checkers see of a node: its core, and its durable storage (what a crash keeps). */
export interface CheckedNode {
  readonly id: NodeId
  readonly up: boolean
  readonly raw: RawNode
  readonly storage: MemoryStorage
}

export class SimViolation extends Error {
  constructor (readonly invariant: string, detail: string) { super(`${invariant}: ${detail}`); this.name = 'SimViolation' }
}

const dec = new TextDecoder()
/** exact identity of an entry's content (latin1 is a byte-for-byte, cheap native decoding) */
const dataKey = (e: Entry): string => `${e.type}:${Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('latin1')}`

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export class Checker {
  /** term → leader id (Election Safety, Figure 3) */
  private readonly leaderOf = new Map<number, NodeId>()
  /** index → the entry applied there by the first node that applied it (State Machine Safety) */
  private readonly appliedAt = new Map<number, { term: number, key: string, hash: number, commitTermBound: number }>()
  /** "index:term" → data, from every persisted entry (Log Matching, first half) */
  private readonly entryAt = new Map<string, string>()
  maxApplied = 0
  /** data key → first index it was applied at (to find a marker proposal) */
  private readonly indexOfKey = new Map<string, number>()
  /** readIndex context → the commit index the read must reflect */
  private readonly pendingReads = new Map<string, number>()
  readsServed = 0
  leadersElected = 0

  // ---- driver hooks ---------------------------------------------------------------------------

  onReady (node: CheckedNode, rd: Ready): void {
    this.onPersist(node, rd.entries)
    if (rd.softState?.role === 'leader') this.onLeader(node)
  }

  /** every entry written anywhere: one (index, term) names one content */
  onPersist (node: CheckedNode, entries: readonly Entry[]): void {
    for (const e of entries) {
      const k = `${e.index}:${e.term}`
      const key = dataKey(e)
      const prev = this.entryAt.get(k)
      if (prev === undefined) this.entryAt.set(k, key)
      else if (prev !== key) throw new SimViolation('log matching', `${node.id} has entry ${k} = ${key}, another node ${prev}`)
    }
  }

  /** node became leader of `term` (default: its current term; a pipelined driver reports it late) */
  onLeader (node: CheckedNode, term = node.raw.raft.term): void {
    this.noteLeader(node.id, term)
    this.checkLeaderCompleteness(node, term)
  }

  /**
   * The pipelined Ready contract (types.ts), checked on each message as it leaves the production
   * driver: what a message promises must already be on the sender's disk. An acknowledgement
   * (appResp) covers its index; a commit index told to a follower is covered on the leader; a
   * granted vote and every message's term (but PreVote's) are the durable hard state.
   */
  onSend (node: CheckedNode, m: Message): void {
    const st = node.storage
    const hs = st.initialState().hardState
    // A message of an older term than the durable one: a later write is durable, so (writes become
    // durable in order) everything this message's Ready wrote is too; its log may since be replaced.
    if (hs.term > m.term) return
    this.checkMessage(node, m, hs.term, hs.vote)
    if (m.type === 'appResp' && m.reject !== true && !this.durableCovers(node, m.index ?? 0, m.term)) {
      throw new SimViolation('ready order', `${node.id} acknowledges index ${m.index ?? 0} to ${m.to} before it is durable`)
    }
    if ((m.type === 'app' || m.type === 'heartbeat') && !this.durableCovers(node, m.commit ?? 0)) {
      throw new SimViolation('ready order', `${node.id} tells ${m.to} commit ${m.commit ?? 0} in ${m.type} of term ${m.term} before its own copy is durable (${this.describeDurable(node, m.commit ?? 0)})`)
    }
  }

  private describeDurable (node: CheckedNode, i: number): string {
    const st = node.storage
    const term = (f: () => number | undefined): string => { try { return String(f()) } catch (err) { return (err as Error).name } }
    return `durable snapshot ${st.snapshot().meta.index}, log ${st.firstIndex()}..${st.lastIndex()}, term at ${i} ${term(() => st.term(i))}; live term ${term(() => node.raw.raft.log.term(i))}`
  }

  /**
   * the node's durable log holds index i as its live log does (or a snapshot covers it). With
   * `ackTerm` (an acknowledgement of that term): a live entry of a later term at i came after the
   * acknowledgement was made (a newer leader overwrote it while the acknowledging Ready's fsync ran;
   * seed 20311), so the durable entry is what it acknowledged if its term is not later than ackTerm.
   */
  private durableCovers (node: CheckedNode, i: number, ackTerm?: number): boolean {
    const st = node.storage
    if (i <= st.snapshot().meta.index) return true
    if (i > st.lastIndex() || i < st.firstIndex()) return false
    // compacted in the live log (undefined): applied there, so committed; any durable copy is that entry
    let live: number | undefined
    try { live = node.raw.raft.log.term(i) } catch { live = undefined }
    if (live === undefined || st.term(i) === live) return true
    return ackTerm !== undefined && live > ackTerm && st.term(i) <= ackTerm
  }

  /** Ready contract: everything the Ready asked to persist is durable before any message leaves. */
  beforeSend (node: CheckedNode, rd: Ready): void {
    const st = node.storage
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]
      if (st.lastIndex() < last.index || st.term(last.index) !== last.term) {
        throw new SimViolation('ready order', `${node.id} sends before entry ${last.index} is durable`)
      }
    }
    const hs = st.initialState().hardState
    if (rd.hardState !== undefined && (hs.term !== rd.hardState.term || hs.vote !== rd.hardState.vote || hs.commit !== rd.hardState.commit)) {
      throw new SimViolation('ready order', `${node.id} sends before hard state is durable`)
    }
    for (const m of rd.messages) this.checkMessage(node, m, hs.term, hs.vote)
  }

  private checkMessage (node: CheckedNode, m: Message, durableTerm: number, durableVote: NodeId | null): void {
    if (LOCAL_MESSAGE_TYPES.has(m.type)) throw new SimViolation('ready messages', `${node.id} emits local-only ${m.type}`)
    if (m.from !== node.id) throw new SimViolation('ready messages', `${node.id} emits a message from ${m.from}`)
    const future = m.type === 'preVote' || (m.type === 'preVoteResp' && m.reject !== true)
    if (!future && m.term > durableTerm) throw new SimViolation('ready order', `${node.id} sends ${m.type} of term ${m.term} with durable term ${durableTerm}`)
    if (m.type === 'voteResp' && m.reject !== true && (durableVote !== m.to || durableTerm !== m.term)) {
      throw new SimViolation('ready order', `${node.id} grants a vote to ${m.to} in term ${m.term} that is not durable`)
    }
  }

  /** State machine safety: every node applies the same entry at each index. */
  onApply (node: CheckedNode, e: Entry, hash: number): void {
    const st = node.storage
    const durable = e.index <= st.snapshot().meta.index || (e.index <= st.lastIndex() && e.index >= st.firstIndex() && st.term(e.index) === e.term)
    if (!durable) throw new SimViolation('ready order', `${node.id} applies entry ${e.index} that is not durable`)
    const prev = this.appliedAt.get(e.index)
    const key = dataKey(e)
    // the entry was committed in a term no later than the applier's current one (it heard of the
    // commit from a leader of at most that term); the lowest such bound over all appliers counts
    const bound = node.raw.raft.term
    if (prev === undefined) {
      this.appliedAt.set(e.index, { term: e.term, key, hash, commitTermBound: bound })
      if (!this.indexOfKey.has(key)) this.indexOfKey.set(key, e.index)
      if (e.index > this.maxApplied) this.maxApplied = e.index
    } else if (prev.term !== e.term || prev.key !== key || prev.hash !== hash) {
      throw new SimViolation('state machine safety', `${node.id} applied ${e.index} (term ${e.term}, ${key}) but another node applied (term ${prev.term}, ${prev.key})`)
    } else if (bound < prev.commitTermBound) prev.commitTermBound = bound
  }

  onRestoreSnapshot (node: CheckedNode, s: Snapshot, hash: number): void {
    const prev = this.appliedAt.get(s.meta.index)
    if (prev !== undefined && ((s.meta.term !== 0 && prev.term !== s.meta.term) || prev.hash !== hash)) {
      throw new SimViolation('state machine safety', `${node.id} restored snapshot ${s.meta.index} whose state differs from what others applied`)
    }
  }

  indexOf (data: Uint8Array): number | undefined { return this.indexOfKey.get(dataKey({ index: 0, term: 0, type: 'normal', data })) }

  // ---- reads ------------------------------------------------------------------------------------

  /** a read issued now must return an index >= every index already applied anywhere */
  noteReadIssued (ctx: string): void { this.pendingReads.set(ctx, this.maxApplied) }

  onReadState (node: CheckedNode, rs: ReadState): void {
    const ctx = dec.decode(rs.context)
    const need = this.pendingReads.get(ctx)
    if (need === undefined) return // duplicate answer of a served read
    if (rs.index < need) throw new SimViolation('linearizable read', `${node.id} read ${ctx} at index ${rs.index}, but ${need} was already applied`)
    this.pendingReads.delete(ctx)
    this.readsServed++
  }

  // ---- per-step checks ---------------------------------------------------------------------------

  noteLeader (id: NodeId, term: number): void {
    const prev = this.leaderOf.get(term)
    if (prev === undefined) { this.leaderOf.set(term, id); this.leadersElected++ } else if (prev !== id) {
      throw new SimViolation('election safety', `two leaders in term ${term}: ${prev} and ${id}`)
    }
  }

  afterStep (nodes: Iterable<CheckedNode>): void {
    for (const n of nodes) {
      if (n.up && n.raw.raft.role === 'leader') this.noteLeader(n.id, n.raw.raft.term)
    }
  }

  /**
   * Leader Completeness (§5.4): the leader of `term` holds every entry committed in an earlier term.
   * An entry counts when some node applied it while its own term was below `term` (so it was
   * committed before). Entries committed in later terms need not be there: a pipelined driver
   * reports leadership late, when a later leader may already have committed more.
   */
  checkLeaderCompleteness (node: CheckedNode, term = node.raw.raft.term): void {
    const log = node.raw.raft.log
    const first = log.firstIndex()
    const last = log.lastIndex()
    for (let i = Math.max(first, 1); i <= this.maxApplied; i++) {
      const a = this.appliedAt.get(i)
      if (a === undefined || a.commitTermBound >= term) continue
      if (i > last) throw new SimViolation('leader completeness', `${node.id} leads term ${term} with last index ${last}, without entry ${i} committed before`)
      if (log.term(i) !== a.term) {
        throw new SimViolation('leader completeness', `${node.id} leads term ${term} with entry ${i} of term ${String(log.term(i))}, committed term ${a.term}`)
      }
    }
  }

  /** Log Matching (Figure 3): if two logs hold an entry with the same index and term, they are identical up to it. */
  checkLogMatching (nodes: CheckedNode[]): void {
    for (let a = 0; a < nodes.length; a++) {
      for (let b = a + 1; b < nodes.length; b++) this.checkPair(nodes[a], nodes[b])
    }
  }

  private checkPair (x: CheckedNode, y: CheckedNode): void {
    const lx = x.raw.raft.log
    const ly = y.raw.raft.log
    const lo = Math.max(lx.firstIndex(), ly.firstIndex())
    let hi = Math.min(lx.lastIndex(), ly.lastIndex())
    while (hi >= lo && lx.term(hi) !== ly.term(hi)) hi--
    if (hi < lo) return
    const ex = lx.slice(lo, hi + 1, Infinity)
    const ey = ly.slice(lo, hi + 1, Infinity)
    for (let i = 0; i < ex.length; i++) {
      if (ex[i].term !== ey[i].term || ex[i].type !== ey[i].type || !sameBytes(ex[i].data, ey[i].data)) {
        throw new SimViolation('log matching', `${x.id} and ${y.id} agree at ${hi} but differ at ${ex[i].index}`)
      }
    }
  }
}
