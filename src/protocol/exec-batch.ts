// The exec protocol's table under its older name: EXEC_MESSAGES (messages.ts) is the one definition.
import type { Infer } from './schema.js'
import { EXEC_MESSAGES } from './messages.js'

export const EXEC_BATCH_MESSAGES = EXEC_MESSAGES

export type ExecBatchType = keyof typeof EXEC_BATCH_MESSAGES
export type ExecBatchBody<K extends ExecBatchType> = Infer<(typeof EXEC_BATCH_MESSAGES)[K]>
