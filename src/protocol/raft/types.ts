// Contract of the pure Raft core (src/protocol/raft) with its drivers (src/node/raft/driver.ts, which
// the seeded simulator in test/sim runs; test/sim/node.ts is a strict reference driver for unit
// tests). Modelled on etcd-io/raft: no timers, sockets or disk inside. The contract is on `Ready`.

export type NodeId = string

export type EntryType = 'normal' | 'conf'

export interface Entry {
  term: number
  index: number
  type: EntryType
  /** normal: opaque command bytes (empty = the leader's no-op); conf: an encoded ConfChange */
  data: Uint8Array
}

export interface HardState { term: number, vote: NodeId | null, commit: number }

export interface ConfState { voters: NodeId[], learners: NodeId[] }

export type ConfChangeType = 'addVoter' | 'addLearner' | 'removeNode'
export interface ConfChange { type: ConfChangeType, nodeId: NodeId }

export interface SnapshotMeta { index: number, term: number, conf: ConfState }
export interface Snapshot { meta: SnapshotMeta, data: Uint8Array }

export type MessageType =
  | 'hup' | 'beat' | 'prop'                       // local only (never on the wire)
  | 'app' | 'appResp'
  | 'vote' | 'voteResp' | 'preVote' | 'preVoteResp'
  | 'heartbeat' | 'heartbeatResp'
  | 'snap' | 'snapStatus' | 'unreachable'         // snapStatus/unreachable are local reports
  | 'transferLeader' | 'timeoutNow'
  | 'readIndex' | 'readIndexResp'
  | 'durable'                                     // leader → follower: its log is durable up to index (commit-inference.ts)

export interface Message {
  type: MessageType
  from: NodeId
  to: NodeId
  term: number
  logTerm?: number
  index?: number
  entries?: Entry[]
  commit?: number
  /**
   * appResp: the append's previous entry (index) is not in the follower's log; rejectHint and logTerm
   * say where it may match. heartbeatResp: the follower's log ends below the heartbeat's commit (it
   * lost entries it had acknowledged); rejectHint and logTerm are its last index and term.
   */
  reject?: boolean
  rejectHint?: number
  snapshot?: Snapshot
  /** ReadIndex request id; TimeoutNow/vote campaign type ('transfer') */
  context?: Uint8Array
  /**
   * app (from a leader, set by its driver): the leader's log is on its disk up to this index, and
   * the leader and this follower are a majority of its configuration (see commit-inference.ts)
   */
  durable?: number
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader'

export interface SoftState { leader: NodeId | null, role: Role }

export interface ReadState { index: number, context: Uint8Array }

/**
 * What the driver must do with a Ready. The simple, strict order (test/sim/node.ts) is
 *   1. persist entries, hard state and snapshot in one durable write (group commit);
 *   2. send messages;  3. apply committedEntries (and a received snapshot);  4. advance(ready).
 *
 * The pipelined order (src/node/raft/driver.ts, checked by test/sim/checker.ts) lets the disk's
 * fsync overlap with the next Readies. Call W(k) the write of Ready k and D(k) "W(1..k) are all
 * durable" (storages whose fsync covers every earlier write, e.g. a WAL, make D(k) one fsync):
 *   a. W(k) happens before advance(k), and W(k) is one write whose durable effect is all or nothing;
 *      advance(k) may come before D(k), so Ready k+1 can be handed out while W(k) is being synced;
 *   b. at most 4 Readies are written and not yet finished (a bound on memory and latency);
 *   c. finishing Ready k (below) waits for D(k) and for Ready k-1 to be finished: strictly in order;
 *   d. finishing sends the messages, applies committedEntries (and a snapshot), hands out readStates
 *      and the soft state, in that order;
 *   e. the one exception to c: a leading prefix of the messages of type app, heartbeat or snap may
 *      leave before W(k) (followers write in parallel, thesis §10.2.1). Their entries need not be
 *      durable; their commit index and term must be, on the sender, since the core counts the
 *      leader's own entries as matched from the moment they are appended. When D(k-1) holds that is
 *      given; otherwise each message is checked against the index and term the sender's finished
 *      fsyncs cover, and none leaves while an earlier Ready still holds messages back (so no
 *      append overtakes one of an earlier Ready).
 *   f. the soft state handed out with Ready k belongs to the term of Ready k: the core may be in a
 *      later term by the time k is finished, so report the term read when k was handed out.
 *   g. a Ready whose write is only a new commit index (no entries, no snapshot, term and vote as last
 *      written) may be finished before D(k) once D(k-1) holds (so right after Ready k-1 is finished,
 *      without an fsync of its own): commitIndex is volatile state in Raft
 *      (Figure 2), the entries it names are durable on a majority (on the leader: D(k-1) covers its
 *      own), and a restart that finds an older commit on disk only learns it again.
 *   So nothing of Ready k is acknowledged (appResp), voted, applied or read before D(k) (but for g),
 *   and a crash before D(k) loses only writes that nobody was told about.
 */
export interface Ready {
  softState?: SoftState
  hardState?: HardState
  entries: Entry[]              // to persist (unstable)
  snapshot?: Snapshot           // to persist and apply
  committedEntries: Entry[]     // to apply, in order
  messages: Message[]           // to send after persisting
  readStates: ReadState[]
}

/**
 * Durable log storage. Synchronous on purpose: better-sqlite3 is synchronous and the Raft core
 * reads storage inline (as etcd's does). Writes are grouped per Ready by the driver.
 */
export interface RaftStorage {
  initialState (): { hardState: HardState, confState: ConfState }
  /** entries in [lo, hi); may stop early after maxBytes (at least one entry is returned) */
  entries (lo: number, hi: number, maxBytes?: number): Entry[]
  /** term of entry i; i may equal the snapshot index. Throws CompactedError/UnavailableError */
  term (i: number): number
  firstIndex (): number
  lastIndex (): number
  snapshot (): Snapshot
  /** one durable write: append (truncating any conflicting suffix), hard state, snapshot */
  save (update: { entries?: Entry[], hardState?: HardState, snapshot?: Snapshot }): void
  /** make a snapshot at index (already applied) and drop log entries up to compactIndex */
  createSnapshot (index: number, conf: ConfState, data: Uint8Array): Snapshot
  /**
   * optional, together: write a snapshot's data (the concatenation of `parts`) to a file of its own
   * without blocking; then make the snapshot at index from that file; or remove a file not used
   */
  writeSnapshotFile? (index: number, parts: Uint8Array[]): Promise<string>
  createSnapshotFromFile? (index: number, conf: ConfState, file: string): Snapshot
  discardSnapshotFile? (file: string): Promise<void>
  compact (compactIndex: number): void
  /** optional: a storage that writes without fsync makes everything saved so far durable here */
  flush? (): Promise<void>
  close (): void
}

export interface RaftConfig {
  id: NodeId
  electionTick: number          // e.g. 10 ticks; randomized in [electionTick, 2*electionTick)
  heartbeatTick: number         // e.g. 1
  storage: RaftStorage
  /** randomness for election timeouts; pure core takes it in */
  rng: () => number
  preVote: boolean
  checkQuorum: boolean
  maxSizePerMsg: number         // bytes of entries per append message
  maxInflightMsgs: number       // pipelining window per follower
  applied?: number
  /** bytes of committed entries handed out per Ready (default max(64*maxSizePerMsg, 1 MiB)) */
  maxCommittedSizePerReady?: number
  /**
   * Back-pressure: the leader drops proposals (ProposalDroppedError) while more than this many
   * entries are uncommitted (default 0 = unlimited). Bounds commit latency under overload.
   */
  maxUncommittedEntries?: number
  /**
   * Ticks the leader waits for a snapshot to be acknowledged (or reported via reportSnapshot)
   * before assuming it was lost and probing again (default 5 * electionTick). A safety net for
   * drivers whose transport cannot report snapshot delivery.
   */
  snapshotTimeoutTick?: number
}
