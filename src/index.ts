/**
 * Retire-Cluster: a peer-to-peer task cluster for retired devices.
 *
 * @example
 * ```ts
 * import { startNode, Task, TaskPriority } from 'retire-cluster'
 * const node = await startNode({ dataDir: './data', bootstrapExpect: 1 })
 * const id = await node.scheduler.submitTask(new Task({ taskType: 'echo', payload: { message: 'hi' }, priority: TaskPriority.HIGH }))
 * const rec = await node.scheduler.waitForResult(id)
 * console.log(rec.status, rec.result)
 * await node.stop()
 * ```
 */
import './node/polyfills.js'
// installs the real Task/TaskBatch/TaskChain id source, so `new Task(...)` works without a node
import './node/task-ids.js'

// the node
export { startNode, type NodeOptions } from './node/node.js'
export type {
  ClusterNode, ClusterScheduler, TaskLifecycleHandler, NodeInfo, RaftStatus, QueueStatistics,
  BatchProgress, WorkflowStatus, TaskMetrics, SubmitOptions
} from './node/api-types.js'
export { ParallelTaskGroup, TaskChain, GroupTimeoutError, ChainStepError } from './node/client/groups.js'
export { NodeError, NoLeaderError, NotFoundError, ConflictError, WaitTimeoutError } from './node/errors.js'
// a client for a node that runs elsewhere (`retire-cluster start`), over its HTTP API
export { ApiClient, ApiClientError, type ApiClientOptions } from './node/api/client.js'
export { ResultStream, type TaskOutcome, type ResultStreamOptions } from './node/api/result-stream.js'
export { SubmitStream } from './node/api/submit-stream.js'

// execution
export { TaskExecutor, type ExecOutcome, type TaskExecutorOptions } from './node/executor/executor.js'
export { BaseTaskHandler, TaskRegistry, loadHandlerModules } from './node/handlers/registry.js'
export type { HandlerContext } from './node/handlers/context.js'
export {
  TaskFailure, InvalidPayloadError, PermissionDeniedError as HandlerPermissionDeniedError, UnsupportedOperationError,
  ResourceExhaustedError, ExecutionError
} from './node/handlers/errors.js'

// the domain
export * from './sched/index.js'
export { TaskBatch } from './sched/batch.js'
export { TaskTemplate } from './sched/template.js'
export type { TaskRecord, TaskAttempt, AttemptResult, ClusterEvent, Command } from './sched/commands.js'

// tools
export { generateClusterKey, parseClusterKey } from './node/host/cluster-key.js'
