// Worker progress as this node sees it (all of it on the leader, its own tasks on a worker): soft
// state relayed over the exec protocol, never in the log, so it has its own listeners beside the
// core's applied events — lifecycle hooks and the API's event stream subscribe to both.
import type { ProgressEvent } from './exec-service.js'

export class ProgressFeed {
  private readonly listeners = new Set<(e: ProgressEvent) => void>()

  emit (e: ProgressEvent): void { for (const l of this.listeners) l(e) }

  /** returns the unsubscribe function */
  subscribe (listener: (e: ProgressEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }
}
