// A short randomized fault soak (issue 11), written the way Jepsen does it: real node processes on
// 127.0.0.1, a client that records every submission, read and outcome in a history file, a nemesis
// that kills -9, pauses and restarts the leader and workers on a seeded schedule, then a checker over
// the history and the final state of every node (test/soak/checker.ts). A failure prints the seed and
// the history path; `SEED=n` runs that seed alone (scripts/soak-faults.ts runs long soaks).
// Budget: three seeds of 40-60 s each on a 2-core machine. Needs the build (npm run build).
import assert from 'node:assert/strict'
import { check, type TaskRecord } from '../soak/checker.js'
import type { HistoryEvent, TaskSpec } from '../soak/history.js'
import { runSoak, summary } from '../soak/run.js'
import { faultKinds } from '../soak/faults.js'

const SEEDS = process.env.SEED !== undefined ? [Number(process.env.SEED)] : [11, 12, 13]
const FAULT_MS = Number(process.env.SOAK_FAULT_MS ?? 20_000)

describe('soak: checker catches planted violations', () => {
  const spec = (tag: string, priority = 3): TaskSpec => ({ taskType: 'echo', payload: { tag }, priority, idempotencyKey: tag })
  const rec = (id: string, tag: string, o: Partial<TaskRecord> = {}): TaskRecord => ({
    id, status: 'completed', priority: 3, result: { tag }, attempts: [{ attempt: 1, deviceId: 'D', status: 'completed', assignedAt: 1000, startedAt: 1010, finishedAt: 1020 }], task: { payload: { tag } }, ...o
  })
  const hist = (ops: Array<[number, string, string | undefined, number?]>): HistoryEvent[] => {
    const ev: HistoryEvent[] = []
    for (const [op, tag, id, p] of ops) {
      ev.push({ t: 100 + op, type: 'invoke', op, try: 1, node: 'n1', spec: spec(tag, p) })
      if (id !== undefined) ev.push({ t: 200 + op, type: 'ok', op, try: 1, node: 'n1', id }, { t: 5000, type: 'final', op, id, lastId: id, status: 'completed', node: 'n1' })
    }
    ev.push({ t: 4000, type: 'heal', phase: 'all-healed' })
    return ev
  }
  const run = (events: HistoryEvent[], tasks: TaskRecord[], metricsCompleted?: number): string[] => check({
    events, finals: new Map([['n1', tasks]]), boundMs: 10_000,
    metrics: new Map([['n1', { completed: metricsCompleted ?? tasks.flatMap(t => t.attempts).filter(a => a.status === 'completed').length, failed: 0, totalTasks: 0 }]])
  }).violations.map(v => v.kind)

  it('a clean history passes', () => {
    assert.deepEqual(run(hist([[1, 'a', 'A'], [2, 'b', 'B']]), [rec('A', 'a'), rec('B', 'b')]), [])
  })
  it('lost, stuck, twice, result, phantom, idempotency, chain, metrics', () => {
    assert.deepEqual(run(hist([[1, 'a', 'A']]), []), ['lost'])
    const stuck = hist([[1, 'a', 'A']]).filter(e => e.type !== 'final')
    assert.deepEqual(run(stuck, [rec('A', 'a', { status: 'queued', attempts: [] })]), ['stuck'])
    const twice = rec('A', 'a', { attempts: [{ attempt: 1, deviceId: 'D', status: 'completed' }, { attempt: 2, deviceId: 'E', status: 'completed' }] })
    assert.deepEqual(run(hist([[1, 'a', 'A']]), [twice]), ['twice', 'twice'])
    assert.deepEqual(run(hist([[1, 'a', 'A']]), [rec('A', 'a', { result: { tag: 'b' } })]), ['result'])
    assert.deepEqual(run(hist([[1, 'a', 'A']]), [rec('A', 'a'), rec('Z', 'z')]), ['phantom'])
    assert.deepEqual(run(hist([[1, 'a', 'A']]), [rec('A', 'a'), rec('A2', 'a')]), ['idempotency'])
    const orphan = rec('A', 'a', { status: 'failed', replacedBy: 'C', attempts: [{ attempt: 1, deviceId: 'D', status: 'failed' }] })
    assert.deepEqual(run(hist([[1, 'a', 'A']]), [orphan, rec('C', 'a', { replaces: 'X' })]), ['chain'])
    assert.deepEqual(run(hist([[1, 'a', 'A']]), [rec('A', 'a')], 2), ['metrics'])
  })
  it('priority: LOW started first while URGENT waited on the same device (and aging cannot excuse it)', () => {
    const low = rec('L', 'l', { priority: 4, attempts: [{ attempt: 1, deviceId: 'D', status: 'completed', assignedAt: 1000, startedAt: 9000, finishedAt: 9001 }] })
    const urgent = rec('U', 'u', { priority: 1, attempts: [{ attempt: 1, deviceId: 'D', status: 'completed', assignedAt: 2000, startedAt: 9500, finishedAt: 9501 }] })
    assert.deepEqual(run(hist([[1, 'l', 'L', 4], [2, 'u', 'U', 1]]), [low, urgent]), ['priority'])
    // the same on two devices, or with the urgent one arriving just before the low one started: no judgement
    const elsewhere = { ...urgent, attempts: [{ ...urgent.attempts[0]!, deviceId: 'E' }] }
    assert.deepEqual(run(hist([[1, 'l', 'L', 4], [2, 'u', 'U', 1]]), [low, elsewhere]), [])
    const late = { ...urgent, attempts: [{ ...urgent.attempts[0]!, assignedAt: 8800 }] }
    assert.deepEqual(run(hist([[1, 'l', 'L', 4], [2, 'u', 'U', 1]]), [low, late]), [])
  })
})

describe('soak: randomized faults (real node processes)', function () {
  // a clean seed takes 40-70 s; a failing one waits out the 60 s bound and the 20 s settle as well
  this.timeout(300_000)
  // the last seed adds the network faults (nodes in network namespaces) and the disk faults, each
  // where the machine allows (root, ip, nft, tmpfs); otherwise it says why and runs process faults only
  SEEDS.forEach((seed, i) => {
    const groups = i === SEEDS.length - 1 ? ['process', 'net', 'disk'] : ['process']
    it(`seed ${seed} (${groups.join('+')}): every acknowledged task ends exactly once, with its payload, within the bound`, async () => {
      const fk = await faultKinds(groups, 3, seed)
      for (const s of fk.skipped) console.log(`      skipped ${s}`)
      try {
        const r = await runSoak({
          seed, nodes: 3, faultMs: FAULT_MS, kinds: fk.kinds, extra: fk.extra, heal: fk.heal,
          ...(fk.lab !== undefined ? { lab: fk.lab } : {}),
          ...(fk.tmpfsNode !== undefined ? { tmpfsNode: fk.tmpfsNode } : {}),
          // The network seed runs slowest (flaps, a leader partition) and its acknowledged count is
          // the nearest the floor below: 21-95 in 7 runs with a snapshot every 50 entries (a
          // follower cut off for more than the ~25 entries kept after a compaction needs a whole
          // snapshot), 55-77 in 3 every 300, 73-91 in 4 with the default. It keeps the default
          // (10,000: none in a run); the process seeds draw theirs (run.ts), the long soak all.
          // A client whose node is cut off or flapping waits out its 5 s timeout, so 3 clients got
          // 41 (CI) and 55-90 (here) acknowledged; forwarded writes that follow a leader change
          // made it 82-139 in 6 runs; 6 clients keep it off the floor when two are stuck.
          ...(groups.includes('net') ? { snapshotEntries: 10_000, clients: 6 } : {}),
          log: l => { console.log(`      ${l.replace(/\n/g, '\n      ')}`) }
        })
        assert.ok(r.ok, summary(r))
        assert.ok(r.report.stats.acknowledged > 50, `too few acknowledged tasks to mean anything: ${summary(r)}`)
        // loopback nodes take half the single submissions over a submission stream (workload.ts)
        if (fk.lab === undefined) assert.ok(r.report.stats.acknowledgedOverStream > 10, `too few acknowledged over a submission stream: ${summary(r)}`)
      } finally { fk.cleanup() }
    })
  })
})
