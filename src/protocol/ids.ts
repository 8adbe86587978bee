// Protocol ids and gossip topics, in one place. The version suffix changes only on an incompatible
// wire change; the envelope version (codec.ts) covers compatible evolution inside a protocol.

/** Raft messages between cluster members (one frame = one encoded 'raft' message). */
export const RAFT_PROTOCOL = '/retire-cluster/raft/1.0.0'

/** Client requests (submit, cancel, queries, join) to the leader, request/response by reqId. */
export const CLIENT_PROTOCOL = '/retire-cluster/client/1.0.0'

/** Leader ↔ worker: assignments, progress, results, cancellation, liveness pings. */
export const EXEC_PROTOCOL = '/retire-cluster/exec/1.0.0'

/** Gossipsub topic on which every node publishes its bid (capabilities + load). */
export const loadTopic = (cluster: string): string => `retire-cluster/${cluster}/load/1`
