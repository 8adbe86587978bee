// What the API reads about a task is the same on every node: the replicated record plus the
// leader's live fields (progress of a running attempt, why a pending task waits), which a follower
// asks the leader for (src/node/client/live-fields.ts). Listing on a follower used to return its
// replicated records without them.

import assert from 'node:assert/strict'
import { startCluster, type TestCluster } from './cluster.js'
import type { ApiClient } from '../../src/node/api/client.js'
import { eventually } from '../helpers/eventually.js'

describe('e2e: live task fields on every node (3 nodes)', function () {
  this.timeout(90_000)
  let cluster: TestCluster
  let follower: ApiClient

  before(async () => {
    cluster = await startCluster(3)
    const i = cluster.nodes.findIndex(n => n.raftStatus().role !== 'leader')
    follower = cluster.clients[i]!
  })
  after(async () => { await cluster?.stop() })

  it("a follower's task list carries the leader's pendingReason, as its task lookup does", async () => {
    const id = await follower.submitTask({ task_type: 'no_such_type', payload: {} })
    const listed = await eventually(async () => {
      const t = (await follower.listTasks({ status: 'pending', limit: 1000 })).find(r => r.id === id)
      return t?.pendingReason !== undefined ? t : false
    }, { timeoutMs: 10_000, intervalMs: 100, message: "pendingReason in a follower's list" })
    assert.match(listed.pendingReason!, /no_such_type/)
    assert.equal((await follower.getTask(id)).pendingReason, listed.pendingReason)
    for (const c of cluster.clients) {
      const t = (await c.listTasks({ status: 'pending', limit: 1000 })).find(r => r.id === id)
      assert.equal(t?.pendingReason, listed.pendingReason, `the list on ${c.url}`)
    }
    await follower.cancelTask(id)
  })

  it("a follower's task list carries the live progress of a running task", async () => {
    const id = await follower.submitTask({ task_type: 'sleep', payload: { duration: 20 } })
    const listed = await eventually(async () => {
      const t = (await follower.listTasks({ status: 'running', limit: 1000 })).find(r => r.id === id)
      return t !== undefined && t.progress > 0 ? t : false
    }, { timeoutMs: 15_000, intervalMs: 100, message: "progress in a follower's list" })
    assert.ok(listed.progress < 100, `progress ${listed.progress}`)
    await follower.cancelTask(id)
  })
})
