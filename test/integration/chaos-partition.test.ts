// Chaos: a network partition between node groups, with real node processes in network namespaces
// (test/netlab). Five nodes, one per namespace, on a bridge; we cut {leader + 1} | {3 others} with nft
// drop rules at the bridge, then heal. Shows: the minority cannot commit (its submits fail, the old
// leader steps down through CheckQuorum), the majority elects a leader and keeps committing, and after
// healing all five converge on one leader, one commit index and the same task list, holding every
// acknowledged task and none of the unacknowledged minority submissions.
//
// Needs root, `ip` (iproute2) and `nft` (nftables); skipped with a printed reason otherwise.

import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NetLab, NetLabUnavailableError } from '../netlab/netlab.js'
import { NsNode, CLI_MAIN } from '../netlab/ns-node.js'
import { REPO_ROOT } from '../netlab/ns-http.js'
import { eventually } from '../helpers/eventually.js'

const N = 5
const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout'])

interface Raft { term: number, commitIndex: number, appliedIndex: number, leaderId: string | null, role: string, voters: string[] }
interface Task { id: string, status: string, deviceId?: string, replacedBy?: string, error?: { type: string }, task: { payload?: { tag?: string } } }
interface Submitted { tag: string, status: number, id?: string, error?: string }

describe('chaos: network partition between node groups (netns)', function () {
  this.timeout(240_000)
  let lab: NetLab | undefined
  let baseDir = ''
  const nodes: NsNode[] = []

  before(async function () {
    if (!existsSync(CLI_MAIN) && NetLab.unavailableReason() === undefined) {
      // the binary runs the build output; `npm test` builds first, a lone run may not have
      execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, stdio: 'inherit', timeout: 150_000 })
    }
    try {
      lab = NetLab.up({ hosts: N })
    } catch (err) {
      if (!(err instanceof NetLabUnavailableError)) throw err
      console.log(`      SKIPPED chaos-partition: ${err.message}`)
      this.skip()
    }
    baseDir = mkdtempSync(join(tmpdir(), 'rc-partition-'))
    for (let i = 1; i <= N; i++) {
      nodes.push(new NsNode({ lab: lab!, host: i, dataDir: join(baseDir, `node${i}`), bootstrapExpect: N }))
    }
    await nodes[0]!.start()
    for (const n of nodes.slice(1)) n.o.bootstrap = nodes[0]!.multiaddrs
    await Promise.all(nodes.slice(1).map(async n => { await n.start() }))
  })

  after(async function () {
    await Promise.allSettled(nodes.map(async n => { await n.stop() }))
    lab?.down()
    if (baseDir !== '') rmSync(baseDir, { recursive: true, force: true })
  })

  it('minority cannot commit, majority elects and commits, all converge after heal', async function () {
    const raft = async (n: NsNode): Promise<Raft> => (await n.api<{ raft: Raft }>('GET', '/v1/status', undefined, 3000)).body.raft
    const submit = async (n: NsNode, tag: string, timeoutMs: number, requirements?: Record<string, unknown>): Promise<Submitted> => {
      try {
        const spec = { task_type: 'echo', payload: { tag }, ...(requirements !== undefined ? { requirements } : {}) }
        const r = await n.api<{ id?: string, error?: { type: string } }>('POST', '/v1/tasks', spec, timeoutMs)
        return { tag, status: r.status, id: r.body?.id, error: r.body?.error?.type }
      } catch (err) {
        return { tag, status: 0, error: (err as Error).message }
      }
    }
    const waitDone = async (n: NsNode, id: string, timeoutMs: number): Promise<Task> => await eventually(async () => {
      const r = await n.api<Task>('GET', `/v1/tasks/${id}/wait?timeoutMs=2000`, undefined, 5000)
      // a long-poll that times out answers with the task's own record, which is 'failed' with
      // replacedBy when it failed over to a clone: final means terminal and not replaced
      return r.status === 200 && TERMINAL.has(r.body.status) && r.body.replacedBy === undefined ? r.body : false
    }, { timeoutMs, intervalMs: 50, message: `task ${id} on ${n.name} terminal` })
    const assertCompleted = (t: Task): void => { assert.equal(t.status, 'completed', `task ends completed: ${JSON.stringify(t)}`) }
    const tasks = async (n: NsNode): Promise<Task[]> => (await n.api<Task[]>('GET', '/v1/tasks?limit=10000', undefined, 5000)).body
    // whole records (status, attempts, devices, results, errors): the replicated state must be identical
    const digest = (ts: Task[]): string => JSON.stringify(ts.slice().sort((a, b) => a.id < b.id ? -1 : 1))

    // 1. one leader, five voters
    const leaderId = await eventually(async () => {
      const views = await Promise.all(nodes.map(raft))
      const lead = views[0]!.leaderId
      if (lead === null || !views.every(v => v.leaderId === lead)) return false
      const lv = views[nodes.findIndex(n => n.peerId === lead)]
      return lv !== undefined && lv.voters.length === N ? lead : false
    }, { timeoutMs: 60_000, intervalMs: 200, message: 'five nodes, one leader, five voters' })
    const L = nodes.findIndex(n => n.peerId === leaderId)
    const before = await Promise.all([1, 2, 3].map(async k => await submit(nodes[L]!, `before-${k}`, 15_000)))
    for (const s of before) assert.equal(s.status, 201, `pre-partition submit: ${JSON.stringify(s)}`)
    for (const s of before) assertCompleted(await waitDone(nodes[L]!, s.id!, 20_000))

    // 2. cut {leader, one follower} | {three others}
    const minority = [L, (L + 1) % N]
    const majority = [...Array(N).keys()].filter(i => !minority.includes(i))
    const oldTerm = (await raft(nodes[L]!)).term
    lab!.partition(minority.map(i => i + 1), majority.map(i => i + 1))
    const cutAt = Date.now()
    console.log(`      partition: minority {${minority.map(i => nodes[i]!.name)}} (old leader ${nodes[L]!.name}) | majority {${majority.map(i => nodes[i]!.name)}}`)

    // Submits on the minority side, to the old leader (which may still believe it leads) and to its
    // follower. They must not be acknowledged: the write deadline (30 s) runs out without a quorum.
    const minoritySubmits = Promise.all([
      submit(nodes[L]!, 'minority-1', 60_000),
      submit(nodes[L]!, 'minority-2', 60_000),
      submit(nodes[minority[1]!]!, 'minority-3', 60_000)
    ])

    // 3. the majority elects a leader among itself
    const newLeaderId = await eventually(async () => {
      const views = await Promise.all(majority.map(async i => await raft(nodes[i]!)))
      const lead = views[0]!.leaderId
      if (lead === null || lead === leaderId || !views.every(v => v.leaderId === lead && v.term > oldTerm)) return false
      return lead
    }, { timeoutMs: 30_000, intervalMs: 100, message: 'majority elects a new leader' })
    const majorityLeaderMs = Date.now() - cutAt
    const M = nodes.findIndex(n => n.peerId === newLeaderId)
    assert.ok(majority.includes(M), 'the new leader is on the majority side')

    // 4. the old leader steps down (CheckQuorum) and its side has no leader
    await eventually(async () => {
      const views = await Promise.all(minority.map(async i => await raft(nodes[i]!)))
      return views.every(v => v.role !== 'leader')
    }, { timeoutMs: 15_000, intervalMs: 100, message: 'old leader steps down' })
    const stepDownMs = Date.now() - cutAt
    const minorityCommit = await Promise.all(minority.map(async i => (await raft(nodes[i]!)).commitIndex))

    // 5. the majority keeps committing: submit through its leader and through a follower (forwarded)
    const majFollower = majority.find(i => i !== M)!
    const during = await Promise.all([1, 2, 3, 4, 5, 6].map(async k => await submit(nodes[k % 2 === 0 ? M : majFollower]!, `majority-${k}`, 20_000)))
    for (const s of during) assert.equal(s.status, 201, `majority-side submit: ${JSON.stringify(s)}`)
    for (const s of during) assertCompleted(await waitDone(nodes[M]!, s.id!, 30_000))
    const majorityCommit = (await raft(nodes[M]!)).commitIndex

    // the minority saw none of it: same commit index as when it lost its leader, no majority tasks
    const minorityCommitLater = await Promise.all(minority.map(async i => (await raft(nodes[i]!)).commitIndex))
    assert.deepEqual(minorityCommitLater, minorityCommit, 'minority commit index does not move')
    assert.ok(majorityCommit > Math.max(...minorityCommit), `majority commits past the minority (${majorityCommit} > ${minorityCommit.join(',')})`)
    for (const i of minority) {
      const seen = (await tasks(nodes[i]!)).filter(t => String(t.task.payload?.tag).startsWith('majority-'))
      assert.equal(seen.length, 0, `${nodes[i]!.name} must not see majority tasks while cut off`)
    }

    // 6. minority submits fail while the cut lasts (none may be acknowledged without a quorum)
    const minorityResults = await minoritySubmits
    for (const s of minorityResults) assert.notEqual(s.status, 201, `minority submit acknowledged without a quorum: ${JSON.stringify(s)}`)
    const minorityFailedMs = Date.now() - cutAt

    // 7. heal and converge: one leader, one commit index, applied everywhere, same tasks everywhere
    lab!.heal()
    const healAt = Date.now()
    let last = ''
    let oneLeaderMs = -1
    await eventually(async () => {
      const views = await Promise.all(nodes.map(raft))
      const lead = views[0]!.leaderId
      const leaders = views.filter(v => v.role === 'leader').length
      const commits = new Set(views.map(v => v.commitIndex))
      last = `leaders=${leaders} leaderIds=${[...new Set(views.map(v => v.leaderId?.slice(-6)))]} commit=${[...commits]} applied=${views.map(v => v.appliedIndex)}`
      if (process.env.RC_TEST_LOG !== undefined) console.log(`      heal+${Date.now() - healAt} ms: ${last}`)
      if (lead === null || leaders !== 1 || !views.every(v => v.leaderId === lead)) return false
      if (oneLeaderMs < 0) oneLeaderMs = Date.now() - healAt
      if (commits.size !== 1) return false
      if (!views.every(v => v.appliedIndex === v.commitIndex)) return false
      const lists = await Promise.all(nodes.map(tasks))
      const d0 = digest(lists[0]!)
      last += ` tasks=${lists.map(l => l.length)}`
      return lists.every(l => digest(l) === d0 && l.every(t => TERMINAL.has(t.status)))
    }, { timeoutMs: 60_000, intervalMs: 200, message: 'converge after heal' }).catch(err => { throw new Error(`${(err as Error).message} [${last}]`) })
    const convergeMs = Date.now() - healAt

    // 8. what every node holds: the acknowledged tasks, completed (a task dispatched to a cut-off
    // device fails over to a clone: follow replacedBy); none of the refused ones
    const lists = await Promise.all(nodes.map(tasks))
    const acked = [...before, ...during].map(s => s.id!)
    let failedOver = 0
    for (const [k, list] of lists.entries()) {
      const byId = new Map(list.map(t => [t.id, t]))
      for (const id of acked) {
        let t = byId.get(id)
        assert.ok(t !== undefined, `${nodes[k]!.name}: acknowledged task ${id} missing`)
        for (let hops = 0; t?.replacedBy !== undefined && hops < 10; hops++) {
          assert.equal(t.error?.type, 'device_failure', `${nodes[k]!.name}: ${t.id} replaced only after a device failure`)
          if (k === 0) failedOver++
          t = byId.get(t.replacedBy)
        }
        assert.equal(t?.status, 'completed', `${nodes[k]!.name}: acknowledged task ${id} ends completed: ${JSON.stringify(t)}`)
      }
      const ghosts = list.filter(t => String(t.task.payload?.tag).startsWith('minority-'))
      assert.deepEqual(ghosts.map(t => t.id), [], `${nodes[k]!.name}: unacknowledged minority submissions must not be there`)
    }

    // 9. the healed minority commits again (the old leader's API forwards to the new leader), and its
    // devices, declared down during the cut, rejoin and get work: this task excludes every majority device
    const afterHeal = await submit(nodes[L]!, 'after-heal', 20_000, { exclude_devices: majority.map(i => nodes[i]!.peerId) })
    assert.equal(afterHeal.status, 201, `post-heal submit on the old leader: ${JSON.stringify(afterHeal)}`)
    const ran = await waitDone(nodes[L]!, afterHeal.id!, 30_000)
    assertCompleted(ran)
    assert.ok(minority.some(i => nodes[i]!.peerId === ran.deviceId), `post-heal task ran on a former minority device, not ${ran.deviceId}`)
    const rejoinMs = Date.now() - healAt

    console.log(`      figures: majority leader after ${majorityLeaderMs} ms; old leader stepped down by ${stepDownMs} ms;` +
      ` minority submits refused (${minorityResults.map(s => s.error ?? s.status).join(', ')}) by ${minorityFailedMs} ms;` +
      ` ${failedOver} acknowledged tasks failed over; after heal: all follow one leader by ${oneLeaderMs} ms, converged by ${convergeMs} ms, a minority device ran new work by ${rejoinMs} ms (commit index ${(await raft(nodes[0]!)).commitIndex}, ${lists[0]!.length} tasks)`)
  })
})
