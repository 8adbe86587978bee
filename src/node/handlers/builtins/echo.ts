import { BaseTaskHandler } from '../registry.js'

/** returns its payload unchanged: a connectivity and overhead probe */
export class EchoHandler extends BaseTaskHandler {
  readonly taskType = 'echo'
  override readonly isolation = 'inline' as const
  execute (payload: unknown): unknown { return payload }
}
