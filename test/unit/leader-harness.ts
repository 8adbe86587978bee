// A real ClusterCore and LeaderLoop for unit tests; the "log" is a list of proposed entries the
// test commits by hand, and the leader's timers go to the scheduler the test passes (real by default).
import { ClusterCore, type ClusterCoreOptions } from '../../src/node/cluster/core.js'
import { LeaderLoop } from '../../src/node/leader/leader.js'
import type { Assignment } from '../../src/node/worker/worker.js'
import { silentLogger } from '../../src/node/host/log.js'
import { decodeCommands } from '../../src/protocol/codec.js'
import type { Command } from '../../src/sched/commands.js'
import type { DeviceBid, TaskData } from '../../src/sched/types.js'
import type { Scheduler } from '../../src/node/scheduler.js'

export const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

export class LeaderHarness {
  readonly core: ClusterCore
  readonly entries: Uint8Array[] = []
  readonly dispatched: Array<{ deviceId: string, items: Assignment[] }> = []
  readonly leader: LeaderLoop
  /** how often the leader has read the bid table */
  bidReads = 0
  private index = 1
  private seq = 0

  constructor (readonly bids: DeviceBid[], scheduler?: Scheduler, coreOpts?: ClusterCoreOptions) {
    this.core = new ClusterCore(silentLogger, undefined, coreOpts)
    this.core.bindProposer(d => { this.entries.push(d) }, () => this.entries.length === 0)
    this.leader = new LeaderLoop({
      selfId: bids[0]!.nodeId,
      core: this.core,
      bids: () => { this.bidReads++; return this.bids },
      isMember: () => true,
      lastSeen: () => Date.now(),
      dispatch: async (deviceId, items) => {
        this.dispatched.push({ deviceId, items })
        return items.map(i => ({ taskId: i.taskId, attempt: i.attempt, accepted: true }))
      },
      cancelOn: () => {},
      now: () => Date.now(),
      deviceTimeoutMs: 3000,
      log: silentLogger,
      scheduler
    })
  }

  /** leader, with its barrier entry applied (it places nothing before) */
  async start (): Promise<void> {
    this.leader.becomeLeader()
    await turn()
    this.commit()
    await turn()
    this.entries.length = 0
  }

  /** the commands of every entry proposed so far, in order, and forget them */
  take (): Command[][] {
    const out = this.entries.map(e => decodeCommands(e))
    return out
  }

  /** apply every proposed entry, in order, as a commit would */
  commit (): void {
    for (const data of this.entries.splice(0)) this.core.applyEntry({ index: ++this.index, term: 1, type: 'normal', data })
  }

  submit (tasks: TaskData[], requestId = `r${++this.seq}`): void {
    void this.core.proposeAndWait({ type: 'submit', requestId, principal: 'alice', at: Date.now(), tasks }).catch(() => {})
  }

  close (): void { this.leader.close() }
}
