// The exec protocol as the node speaks it: batched forms of EXEC_MESSAGES. The leader dispatches
// every assignment for one worker in one frame, and a worker reports many results in one request,
// which the leader answers once they are committed (the ack). One schema table for both directions.
import { arr, bool, num, obj, str, type Infer } from './schema.js'
import { AttemptResultSchema, EXEC_MESSAGES, TaskDataSchema } from './messages.js'
import { MAX_BATCH_TASKS, MAX_ID_LENGTH, MAX_TEXT_LENGTH } from './limits.js'

const id = () => str({ min: 1, max: MAX_ID_LENGTH })
const count = () => num({ int: true, min: 0 })

export const EXEC_BATCH_MESSAGES = {
  /** leader → worker (request): run these attempts */
  assignBatch: obj({ leaderTerm: count(), items: arr(obj({ taskId: id(), attempt: count(), task: TaskDataSchema }), { max: MAX_BATCH_TASKS }) }),
  assignBatchRes: obj({
    replies: arr(obj({ taskId: id(), attempt: count(), accepted: bool(), reason: str({ max: MAX_TEXT_LENGTH }) }, { optional: ['reason'] }), { max: MAX_BATCH_TASKS })
  }),
  /** worker → leader (request): outcomes; the answer lists the `taskId:attempt` keys now committed */
  results: obj({ results: arr(AttemptResultSchema, { max: MAX_BATCH_TASKS }) }),
  resultsAck: obj({ keys: arr(str({ max: 2 * MAX_ID_LENGTH }), { max: MAX_BATCH_TASKS }), notLeader: bool() }, { optional: ['notLeader'] }),
  started: EXEC_MESSAGES.started,
  progress: EXEC_MESSAGES.progress,
  cancelAttempt: EXEC_MESSAGES.cancelAttempt,
  ping: EXEC_MESSAGES.ping,
  pong: EXEC_MESSAGES.pong
}

export type ExecBatchType = keyof typeof EXEC_BATCH_MESSAGES
export type ExecBatchBody<K extends ExecBatchType> = Infer<(typeof EXEC_BATCH_MESSAGES)[K]>
