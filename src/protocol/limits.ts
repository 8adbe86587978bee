// Every size cap of the wire and the replicated state, in one place. A cap exists so that one bad
// or hostile peer cannot make a node allocate without bound; each is sized for the largest honest
// use with headroom. Decoders enforce them before anything else sees a message.
//
// ONE definition per limit, here; src/sched, src/node and the decoders import it (test/unit/
// limits-single-source.test.ts greps for copies). Why it matters: a submit that src/sched accepts
// but the entry decoder refuses would be committed and then be unappliable on every node. So every
// input check (sched parse, HTTP validation) uses these same numbers, at most as strict as the
// decoder, and the cluster core validates each entry with the decoder itself before proposing it.

const KiB = 1024
const MiB = 1024 * KiB

/** Largest encoded frame on the client and exec streams. Bounds a submit: a 10,000-task batch fits
 *  only if its tasks average under ~400 encoded bytes (a minimal task is ~320); bigger batches must
 *  be split by the caller. */
export const MAX_FRAME_BYTES = 4 * MiB

/** Largest frame on the Raft stream: a snapshot up to this size goes in one 'snap' frame, so it is
 *  much bigger than the others. Only cluster members (pnet + noise) can open this stream. */
export const MAX_RAFT_FRAME_BYTES = 64 * MiB

/** A snapshot bigger than this crosses the Raft stream in 'snapChunk' frames of this size
 *  (src/node/cluster/snapshot-transfer.ts): heartbeats pass between them, and a state over
 *  MAX_RAFT_FRAME_BYTES (a full retention reached 68 MB in the soak) can still be sent. */
export const SNAPSHOT_CHUNK_BYTES = 1 * MiB

/** The whole of a snapshot sent in chunks: what a receiver agrees to put together (one per sender). */
export const MAX_SNAPSHOT_TRANSFER_BYTES = 1024 * MiB

/** One task's payload (encoded size). Tasks are commands, not data transfer: put data in files. */
export const MAX_TASK_PAYLOAD_BYTES = 1 * MiB

/** One task's result as reported by a worker. Larger results should be written to a file. */
export const MAX_RESULT_BYTES = 1 * MiB

/** One gossiped bid (capabilities + load). Real bids are ~1 KiB; gossipsub fans them out to everyone. */
export const MAX_BID_BYTES = 16 * KiB

/** Top-level fields of a bid: room for newer versions' extra fields, not for junk. */
export const MAX_BID_KEYS = 64

/** A device's display name in its bid. */
export const MAX_DEVICE_NAME_LENGTH = 128

/** A CPU architecture name (x64, arm64, ...), in a bid or a task requirement. */
export const MAX_ARCH_LENGTH = 32

/** Sensors one device reports in its bid. */
export const MAX_DEVICE_SENSORS = 32

/** One sensor name (gps, camera, ...), in a bid or a task requirement. */
export const MAX_SENSOR_NAME_LENGTH = 32

/** The device policy's reason in a bid ("on battery 43 %", "hot 71 °C"): one short sentence. */
export const MAX_DEVICE_REASON_LENGTH = 200

/** A draining device's time left in its bid: a day is far beyond any drain deadline. */
export const MAX_DRAIN_LEFT_MS = 86_400_000

/** Concurrent task slots one device may advertise. */
export const MAX_CONCURRENT_TASKS = 1024

/** A sandbox size limit (memory, file size): 1 TiB, more makes no sense on an old device. */
export const MAX_SANDBOX_SIZE_BYTES = 1024 * 1024 * MiB

/** Tasks in one submit (a batch). 10k keeps one Raft entry under the frame cap for small tasks.
 *  Also the cap on a chunked batch as a whole (all its chunks together). */
export const MAX_BATCH_TASKS = 10_000

/** Steps of one workflow / chain. Also bounds the state machine's recursion over the step DAG. */
export const MAX_WORKFLOW_STEPS = 1_000

/** Tasks one template instantiates (it becomes one submit command, so at most MAX_BATCH_TASKS). */
export const MAX_TEMPLATE_TASKS = 1_000

/** Raft entries in one append message. Bytes are bounded by the frame cap anyway. */
export const MAX_ENTRIES_PER_MSG = 10_000

/** Commands in one Raft entry (the leader batches assignments and results). */
export const MAX_COMMANDS_PER_ENTRY = 10_000

/** Not a cap: the cluster core proposes its buffer as soon as it holds this many commands (else at
 *  the end of the event-loop turn). Below MAX_COMMANDS_PER_ENTRY so one busy turn does not build
 *  one huge entry; the core still splits anything over the entry caps (count and bytes). */
export const ENTRY_FLUSH_COMMANDS = 2_000

/** Not a cap: the cluster core packs commands into entries of about this many encoded bytes (half
 *  the entry cap), so the leader's batching never makes an entry near MAX_ENTRY_DATA_BYTES. One
 *  command bigger than this gets an entry of its own (still at most MAX_ENTRY_DATA_BYTES). */
export const ENTRY_PACK_TARGET_BYTES = 2 * MiB

/** Assignments / results inside one command. */
export const MAX_ITEMS_PER_COMMAND = 10_000

/** Ids: task ids (ULID-like, 26), peer ids (~52), request ids (client id + counter). */
export const MAX_ID_LENGTH = 128

/** Human names: device names, batch and workflow names, step names, principals. */
export const MAX_NAME_LENGTH = 256

/** User-chosen keys: batch and workflow ids, idempotency keys (ids, not documents). */
export const MAX_KEY_LENGTH = 256

/** Task type names: identifiers like `python_eval`. */
export const MAX_TASK_TYPE_LENGTH = 128

/** Free text: descriptions, error messages, pending reasons, refusal reasons. */
export const MAX_TEXT_LENGTH = 4 * KiB

/** an error's details (a failing command's output, a handler's own data) */
export const MAX_ERROR_DETAILS_BYTES = 64 * KiB

/** Short lists on a device or task: sensors, permissions, task types, excluded devices, paths. */
export const MAX_LIST_ITEMS = 256

/** Devices a task excludes: failover adds one per failed device, a cluster has at most hundreds. */
export const MAX_EXCLUDE_DEVICES = 1024

/** Sensors a task can require; real devices have a handful. */
export const MAX_REQUIRED_SENSORS = 32

/** Strings in task requirements (device ids, arch): peer ids are ~52 characters. */
export const MAX_REQUIREMENT_STRING_LENGTH = 128

/** A task's timeout: a day. Longer work should be split into tasks. */
export const MAX_TASK_TIMEOUT_SECONDS = 86_400

/** A task's maxRetries: more than this is a bug loop, not resilience. */
export const MAX_TASK_RETRIES = 100

/** Submissions the state machine remembers for dedup of retried requests (FIFO beyond): a bound
 *  on the replicated state's memory. */
export const MAX_REMEMBERED_REQUESTS = 100_000

/** Task ids across all remembered submit replies (a 10,000-task batch remembers 10,000 ids): a
 *  byte bound on the dedup memory, which MAX_REMEMBERED_REQUESTS alone (a count) is not. */
export const MAX_REMEMBERED_REQUEST_TASK_IDS = 1_000_000

/** A task's result_ttl_seconds (and the cluster's retention): a year. Longer is "keep forever",
 *  which a months-long cluster cannot afford in its replicated state. */
export const MAX_RESULT_TTL_SECONDS = 365 * 86_400

/** Ids (tasks, batches, workflows) in one 'evict' command: bounds one Raft entry (~30 bytes an
 *  id → ~150 KiB). The leader also stops naming units at about this many tasks (a batch id stands
 *  for up to MAX_BATCH_TASKS), so one apply stays small; more go in later rounds. */
export const MAX_EVICT_IDS_PER_COMMAND = 5_000

/** Evicted task ids remembered so that a lookup answers 410 rather than 404 (FIFO beyond; older
 *  ids are recognised by their id time, see ClusterState.evictedHint). ~40 bytes each in the
 *  snapshot: 4 MB at the cap. */
export const MAX_EVICTED_TOMBSTONES = 100_000

/** Ready-queue capacity when the cluster has no maxQueueSize setting (the seed's TaskQueue
 *  max_size default): ~100 MB of queued tasks per node, more than a home cluster works through in a day. */
export const DEFAULT_MAX_QUEUE_SIZE = 100_000

/** Ready-queue capacity a cluster may be set to (--max-queue): every queued task lives in every
 *  node's memory and snapshot (~1 KiB each), so 10 M is ~10 GB, far past any retired device. */
export const MAX_QUEUE_SIZE_SETTING = 10_000_000

/** Retained terminal tasks a cluster may be set to (maxRetainedTasks): the same reasoning as the
 *  queue's bound, ~1-1.5 KiB of heap per record on every node. */
export const MAX_RETAINED_TASKS_SETTING = 10_000_000

/** Rate-limit rules in the cluster settings (per task type / per principal): a few per type. */
export const MAX_RATE_LIMIT_RULES = 256

/** A rate limit's count (and burst): a million assignments per period is no limit at all. */
export const MAX_RATE_LIMIT_COUNT = 1_000_000

/** A rate limit's period: "per day" is the longest window that makes sense for a token bucket. */
export const MAX_RATE_LIMIT_PERIOD_SECONDS = 86_400

/** Devices the replicated reliability table keeps (src/sched/reliability.ts): beyond it the device
 *  heard from least recently (and not quarantined) is forgotten. Far above any real cluster. */
export const MAX_RELIABILITY_DEVICES = 4_096

/** Task types tracked per device for the device × type reliability; the stalest type is dropped. */
export const MAX_RELIABILITY_TYPES_PER_DEVICE = 32

/** Recent distinct-task failures kept per device (quarantine needs only a handful within its window). */
export const MAX_RECENT_FAILURES = 64

/** Quarantine start times kept per device to count repeats (each doubles the next quarantine). */
export const MAX_QUARANTINE_HISTORY = 32

/** Preemptions the leader proposes in one planning round: each kills running work, so few at once. */
export const MAX_PREEMPTIONS_PER_ROUND = 16

/** A filesystem path in a sandbox config. */
export const MAX_PATH_LENGTH = 4 * KiB

/** A multiaddr string. */
export const MAX_ADDR_LENGTH = 512

/** listTasks page size. */
export const MAX_LIST_LIMIT = 10_000

/** Tasks in one 'liveTasks' query (a follower asking the leader for the live fields of a list page's
 *  pending and running tasks). Each answer carries at most an id and a pending reason of
 *  MAX_TEXT_LENGTH, so 500 stay under MAX_FRAME_BYTES (~2.1 MiB); a larger page asks in slices. */
export const MAX_LIVE_TASKS_PER_QUERY = 500

/** Raft entry data (one encoded Command[]). A submit frame at the client cap becomes an entry a few
 *  bytes bigger (the leader adds `type`, `at`, `principal`), hence the headroom. */
export const MAX_ENTRY_DATA_BYTES = MAX_FRAME_BYTES + 64 * KiB

/** Raft snapshot data inside one 'snap' message (the whole state machine; leaves room for the envelope). */
export const MAX_SNAPSHOT_BYTES = MAX_RAFT_FRAME_BYTES - 64 * KiB

/** Voters + learners in a configuration. Voters are capped at 5 by policy; learners are all other members. */
export const MAX_MEMBERS = 1_000

/** Opaque Raft context (ReadIndex id, transfer marker). */
export const MAX_CONTEXT_BYTES = 256

/** msgpackr's shared pack buffer is replaced by a fresh one past this, so one big message does not pin a big buffer for good */
export const PACK_BUFFER_MAX_BYTES = 64 * KiB

/** a message that comes out bigger than this as plain msgpack maps is encoded again with records (codec.ts) */
export const PLAIN_MAX_BYTES = 16 * KiB

/** finished task records kept in the replicated state by default (settings.maxRetainedTasks): ~150 MB of heap per node */
export const DEFAULT_MAX_RETAINED_TASKS = 100_000
