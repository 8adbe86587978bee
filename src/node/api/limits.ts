// Every bound the HTTP API enforces, in one place.

/** Largest request body we read (413 beyond): a batch of a few thousand tasks fits, a flood does not. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024

// Tasks per batch, steps per workflow and the largest list are the wire's own caps (one place).
export { MAX_BATCH_TASKS, MAX_WORKFLOW_STEPS, MAX_LIST_LIMIT, MAX_KEY_LENGTH } from '../../protocol/limits.js'

/** Default `limit` of GET /v1/tasks. */
export const DEFAULT_LIST_LIMIT = 100

/** Longest a GET /v1/tasks/:id/wait long-poll holds the connection; clients loop past it. */
export const MAX_WAIT_MS = 60_000
export const DEFAULT_WAIT_MS = 30_000

/** An SSE client whose unsent backlog exceeds this is too slow to keep: we drop it, not the node. */
export const MAX_SSE_BACKLOG_BYTES = 1024 * 1024

/** Most task ids an SSE client with `?taskId=` follows (the task and its failover clones; the oldest dropped beyond). */
export const MAX_SSE_FOLLOWED_IDS = 100

/** Most concurrent SSE clients per node. */
export const MAX_SSE_CLIENTS = 64

/** SSE comment heartbeat, so proxies and phones keep the stream open. */
export const SSE_HEARTBEAT_MS = 15_000

/** Most tracked in-flight tasks for latency histograms (oldest dropped beyond), bounding memory. */
export const MAX_TRACKED_TASKS = 100_000

/** Most submissions of one POST /v1/tasks/stream waiting for their answer; the node stops reading the stream beyond. */
export const MAX_STREAM_INFLIGHT = 1024

/** Answers of a submission stream not yet taken by its client, in bytes; the node stops reading the stream beyond. */
export const MAX_STREAM_BACKLOG_BYTES = 1024 * 1024
