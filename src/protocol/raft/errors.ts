export class CompactedError extends Error { constructor (index: number) { super(`raft: index ${index} is compacted`); this.name = 'CompactedError' } }
export class UnavailableError extends Error { constructor (index: number) { super(`raft: index ${index} is unavailable`); this.name = 'UnavailableError' } }
export class ProposalDroppedError extends Error { constructor (why: string) { super(`raft: proposal dropped: ${why}`); this.name = 'ProposalDroppedError' } }
/** A snapshot request for an index at or below the current snapshot, or beyond the log. */
export class SnapshotOutOfDateError extends Error { constructor (index: number, snapIndex: number) { super(`raft: snapshot index ${index} is not newer than the current snapshot ${snapIndex}`); this.name = 'SnapshotOutOfDateError' } }
/** Bad input to the Raft core or its storage (a field out of range, an unknown node, ...). */
export class RaftInputError extends Error { constructor (field: string, why: string) { super(`raft: invalid ${field}: ${why}`); this.name = 'RaftInputError' } }
