export class CompactedError extends Error { constructor (index: number) { super(`raft: index ${index} is compacted`); this.name = 'CompactedError' } }
export class UnavailableError extends Error { constructor (index: number) { super(`raft: index ${index} is unavailable`); this.name = 'UnavailableError' } }
export class ProposalDroppedError extends Error { constructor (why: string) { super(`raft: proposal dropped: ${why}`); this.name = 'ProposalDroppedError' } }
