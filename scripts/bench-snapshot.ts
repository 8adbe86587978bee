// What a node's snapshots cost once its retention is full and work comes a few tasks an entry (the
// steady state of a cluster that has run a while): `retained` ended tasks, then `between` more, one
// task an entry as the latency path commits them, then the next snapshot in slices. With the pieces
// of ended tasks taken from the stored snapshot (src/node/cluster/snapshot-pieces.ts) against
// encoding them all again (--no-reuse), on ClusterCore as a node runs it. Prints JSON.
// Usage: npx tsx scripts/bench-snapshot.ts [--retained 100000] [--between 12000] [--no-reuse]
import { parseArgs } from 'node:util'
import { ClusterCore } from '../src/node/cluster/core.js'
import { readInMemorySnapshot } from '../src/node/cluster/snapshot-pieces.js'
import { createLogger } from '../src/node/log.js'
import { concatBytes, encodeCommands } from '../src/protocol/codec.js'
import { defaultRequirements } from '../src/sched/requirements.js'
import type { Command } from '../src/sched/commands.js'

const { values } = parseArgs({ options: { retained: { type: 'string', default: '100000' }, between: { type: 'string', default: '12000' }, 'no-reuse': { type: 'boolean', default: false } } })
const RETAINED = Number(values.retained)
const BETWEEN = Number(values.between)
const T0 = 1_700_000_000_000
const DEVICE = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

const core = new ClusterCore(createLogger('bench', 'error'), undefined, { nextSlice: fn => { setImmediate(fn) } })
let stored: { meta: { index: number }, data: Uint8Array } = { meta: { index: 0 }, data: new Uint8Array(0) }
if (values['no-reuse'] !== true) core.bindStoredSnapshot(readInMemorySnapshot({ snapshot: () => stored }))
let index = 1
const feed = (cmds: Command[]): void => { core.applyEntry({ term: 1, index: ++index, type: 'normal', data: encodeCommands(cmds) }) }

/** n tasks from `from`, submitted, placed and completed: in entries of `perEntry` tasks */
function run (from: number, n: number, perEntry: number): void {
  for (let i = from; i < from + n; i += perEntry) {
    const ids = Array.from({ length: Math.min(perEntry, from + n - i) }, (_, k) => `01J${String(i + k).padStart(23, '0')}`)
    const at = T0 + i
    feed([{ type: 'submit', requestId: `r${i}`, principal: 'alice', at, tasks: ids.map(id => ({ id, taskType: 'echo', payload: { n: 1 }, priority: 3, requirements: defaultRequirements(), requiredPermissions: [], retryCount: 0, createdAt: at })) }])
    feed([{ type: 'assign', at, assignments: ids.map(taskId => ({ taskId, attempt: 1, deviceId: DEVICE })) }])
    feed([{ type: 'finished', at: at + 1, results: ids.map(taskId => ({ taskId, attempt: 1, deviceId: DEVICE, status: 'completed' as const, result: { echoed: { n: 1 } }, startedAt: at, finishedAt: at + 1 })) }])
  }
}

async function snapshot (): Promise<{ ms: number, cpuMs: number, bytes: number }> {
  const t = performance.now(); const c = process.cpuUsage()
  const data = concatBytes(await core.snapshotInSlices())
  const cpu = process.cpuUsage(c)
  stored = { meta: { index }, data }
  core.snapshotStored(index)
  // nothing was fed meanwhile, so nothing is held; the core lets go of the hold a turn later
  while (core.holding) await new Promise(resolve => { setImmediate(resolve) })
  return { ms: Math.round(performance.now() - t), cpuMs: Math.round((cpu.user + cpu.system) / 1000), bytes: data.byteLength }
}

run(0, RETAINED, 1000)
const first = await snapshot()
run(RETAINED, BETWEEN, 1)
const before = core.reusedSnapshotPieces
const next = await snapshot()
const after = core.reusedSnapshotPieces
console.log(JSON.stringify({
  retained: RETAINED,
  between: BETWEEN,
  reuse: values['no-reuse'] !== true,
  first,
  next,
  nextReusedRecords: after.records - before.records,
  nextCpuMicrosPerTaskBetween: Math.round(next.cpuMs * 1000 / BETWEEN)
}))
