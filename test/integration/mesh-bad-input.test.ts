// Malformed, oversized and forged messages on every protocol: rejected, logged, nothing changes.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHost, type Host } from '../../src/node/host/host.js'
import { silentLogger } from '../../src/node/host/log.js'
import { FramedChannel } from '../../src/node/transport/framed.js'
import { encode, decode } from '../../src/protocol/codec.js'
import { CLIENT_MESSAGES } from '../../src/protocol/messages.js'
import { EXEC_BATCH_MESSAGES } from '../../src/protocol/exec-batch.js'
import { CLIENT_PROTOCOL, EXEC_PROTOCOL, RAFT_PROTOCOL } from '../../src/protocol/ids.js'
import { eventually } from '../helpers/eventually.js'
import { startLocalCluster, waitForBids, addrsOf, type LocalCluster } from '../helpers/local-cluster.js'

describe('mesh: bad input on every protocol', function () {
  this.timeout(120_000)
  let c: LocalCluster
  let intruder: Host
  let dir: string
  const channels: FramedChannel[] = []
  const chan = async (protocol: string): Promise<FramedChannel> => {
    const ch = new FramedChannel(intruder.libp2p, protocol, { onMessage: () => undefined, log: silentLogger, maxFrameBytes: 64 * 1024 * 1024 })
    await ch.start()
    channels.push(ch)
    return ch
  }

  before(async () => {
    c = await startLocalCluster(3)
    await waitForBids(c.nodes)
    dir = mkdtempSync(join(tmpdir(), 'rc-intruder-'))
    // same cluster (no key), so it can connect: the protocols themselves must hold
    intruder = await createHost({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: addrsOf(c.nodes[0]!), mdns: false, clusterName: 'default', log: silentLogger })
    await eventually(() => intruder.connectedPeers().length > 0, { timeoutMs: 10_000 })
  })
  after(async () => {
    for (const ch of channels) await ch.stop().catch(() => {})
    await intruder?.stop()
    await c?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('garbage, forged and oversized messages change nothing and the cluster keeps working', async () => {
    const leader = c.leader()
    const tasksBefore = (await leader.scheduler.listTasks()).length
    const termBefore = leader.raftStatus().term
    const raft = await chan(RAFT_PROTOCOL)
    const client = await chan(CLIENT_PROTOCOL)
    const exec = await chan(EXEC_PROTOCOL)
    for (const n of c.nodes) await intruder.dial(addrsOf(n)[0]!)

    for (let i = 0; i < 20; i++) {
      for (const n of c.nodes) {
        await raft.send(n.id, randomBytes(1 + i * 37)).catch(() => {})
        await exec.send(n.id, randomBytes(1 + i * 41)).catch(() => {})
      }
    }
    // a well-formed vote request with a huge term from a non-member must not depose the leader
    for (const n of c.nodes) {
      await raft.send(n.id, encode('raft', { type: 'vote', from: intruder.peerId, to: n.id, term: termBefore + 100, logTerm: 1000, index: 1_000_000 }, 64 * 1024 * 1024))
      // and one that lies about its sender
      await raft.send(n.id, encode('raft', { type: 'app', from: c.nodes.find(x => x !== n)!.id, to: n.id, term: termBefore + 100, logTerm: 0, index: 0, entries: [], commit: 0 }, 64 * 1024 * 1024))
    }
    // client protocol: garbage gets an error answer, a structurally invalid submit too
    const garbage = decode(await client.request(leader.id, randomBytes(64)), CLIENT_MESSAGES)
    assert.equal(garbage.type, 'error')
    const badSubmit = await client.request(leader.id, Buffer.from(encode('submit', { reqId: 1, requestId: 'x', tasks: [] }).map((b, i) => i === 5 ? b ^ 0xff : b)))
    assert.equal((decode(badSubmit, CLIENT_MESSAGES).body as any).ok, false)
    const invalid = await client.request(leader.id, encode('submit', { reqId: 2, requestId: 'bad', tasks: [{ id: 'x', taskType: 'echo' }] } as any)).catch(err => err)
    assert.ok(invalid instanceof Error || (decode(invalid, CLIENT_MESSAGES).body as any).ok === false)
    // oversized frame on the client protocol (the node's cap is 4 MiB)
    await assert.rejects(client.request(leader.id, new Uint8Array(5 * 1024 * 1024), { timeoutMs: 5000 }))

    // forged results for a task running on another device are stale, never its outcome
    const id = await leader.scheduler.submitTask({ task_type: 'sleep', payload: { duration: 1.5 } })
    const running = await eventually(async () => {
      const r = await leader.scheduler.getTaskStatus(id)
      return r?.deviceId !== undefined ? r : false
    }, { timeoutMs: 10_000 })
    const forged = { taskId: id, attempt: 1, deviceId: running.deviceId!, status: 'completed', result: { forged: true }, startedAt: Date.now(), finishedAt: Date.now() }
    const ack = decode(await exec.request(leader.id, encode('results', { results: [forged] })), EXEC_BATCH_MESSAGES)
    assert.equal(ack.type, 'resultsAck')
    const done = await leader.scheduler.waitForResult(id, { timeoutMs: 20_000 })
    assert.equal(done.status, 'completed')
    assert.notDeepEqual(done.result, { forged: true }, 'a forged result never becomes the outcome')

    // nothing else changed, and the cluster still works
    assert.equal(c.leader(), leader, 'the leader was not deposed')
    assert.equal(leader.raftStatus().term, termBefore, 'no term inflation')
    const id2 = await c.followers()[0]!.scheduler.submitTask({ task_type: 'echo', payload: { ok: true } })
    assert.equal((await c.followers()[0]!.scheduler.waitForResult(id2, { timeoutMs: 20_000 })).status, 'completed')
    assert.equal((await leader.scheduler.listTasks()).length, tasksBefore + 2)
  })
})
