// Debug log level only: one line a second with what the pipeline did (Readies, entries written and
// applied, commands, fsync and apply time, bytes, the task counts) — what to look at first when a
// node is slow.
import type { RaftDriver } from '../raft/driver.js'
import type { ClusterCore } from './core.js'
import type { Logger } from '../log.js'
import { realScheduler, type CancelTimer } from '../scheduler.js'

export interface StatsLineInit {
  driver: () => RaftDriver | undefined
  core: ClusterCore
  workerActive: () => number
  log: Logger
}

const STATS_INTERVAL_MS = 1000

type Sample = RaftDriver['stats'] & { cmds: number }

export function startStatsLine (d: StatsLineInit): CancelTimer {
  const first = d.driver()
  let prev: Sample | undefined = first === undefined ? undefined : { ...first.stats, cmds: d.core.appliedCommands }
  return realScheduler.interval(() => {
    const driver = d.driver()
    if (driver === undefined) return
    const s = { ...driver.stats, cmds: d.core.appliedCommands }
    if (prev !== undefined) d.log.debug(`stats: ${driver.isLeader ? 'leader' : 'follower'} ${rates(s, prev)} ${counts(d)}`)
    prev = s
  }, STATS_INTERVAL_MS, { unref: true })
}

function rates (s: Sample, prev: Sample): string {
  const readies = s.readies - prev.readies
  return `readies/s=${readies} written/s=${s.entriesWritten - prev.entriesWritten} ` +
    `applied/s=${s.entriesApplied - prev.entriesApplied} cmds/s=${s.cmds - prev.cmds} flushMs/ready=${readies === 0 ? 0 : ((s.flushMs - prev.flushMs) / readies).toFixed(1)} ` +
    `saveMs=${(s.saveMs - prev.saveMs).toFixed(0)} applyMs=${(s.applyMs - prev.applyMs).toFixed(0)} KB/s=${((s.bytesWritten - prev.bytesWritten) / 1024).toFixed(0)}`
}

function counts (d: StatsLineInit): string {
  const st = d.core.state
  return `tasks=${st.size} ready=${st.readySize} active=${st.activeCount} worker=${d.workerActive()}`
}
