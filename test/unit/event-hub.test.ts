// EventHub (GET /v1/events) on its own, with a fake node's onEvent and responses of the test's
// making: `?taskId=A` follows A's failover clones (and theirs), not the tasks A is a clone of, and
// what one client follows stays bounded.

import assert from 'node:assert/strict'
import { EventHub } from '../../src/node/api/events.js'
import type { RouteContext } from '../../src/node/api/router.js'
import type { ClusterNode } from '../../src/node/api-types.js'

type Listener = Parameters<ClusterNode['onEvent']>[0]
type NodeEvent = Parameters<Listener>[0]

const turn = async (): Promise<void> => { await new Promise<void>(resolve => { setImmediate(resolve) }) }

/** a response that records what is written to it */
function fakeRes (): { res: RouteContext['res'], frames: () => Array<{ kind: string, taskId: string }> } {
  let out = ''
  const res = {
    writableLength: 0,
    destroyed: false,
    writeHead () { return res },
    write (s: string) { out += s; return true },
    on () { return res },
    end () {},
    destroy () {}
  }
  const frames = (): Array<{ kind: string, taskId: string }> => out.split('\n\n').filter(f => f.startsWith('event: ')).map(f => {
    const [ev, data] = f.split('\n')
    return { kind: ev!.slice(7), taskId: (JSON.parse(data!.slice(6)) as { taskId: string }).taskId }
  })
  return { res: res as unknown as RouteContext['res'], frames }
}

describe('EventHub ?taskId=', () => {
  let emit: Listener
  let hub: EventHub
  beforeEach(() => {
    const node = { onEvent: (l: Listener) => { emit = l; return () => {} } } as unknown as ClusterNode
    hub = new EventHub(node)
  })
  afterEach(() => { hub.closeAll() })

  const subscribe = async (query: string): Promise<ReturnType<typeof fakeRes>> => {
    const r = fakeRes()
    await hub.handle({ res: r.res, query: new URLSearchParams(query), params: {} } as unknown as RouteContext)
    return r
  }

  it('follows the task\'s failover clone, and the clone\'s own clone', async () => {
    const a = await subscribe('taskId=A')
    const all = await subscribe('')
    const events: NodeEvent[] = [
      { kind: 'submit', taskId: 'A', at: 1 },
      { kind: 'submit', taskId: 'X', at: 1 },
      { kind: 'failover', taskId: 'Z', cloneId: 'A', deviceId: 'd0', at: 1 }, // A is Z's clone: Z is not A's
      { kind: 'error', taskId: 'A', attempt: 1, deviceId: 'd1', at: 2, error: { type: 'device_failure', message: 'down' }, final: false, status: 'failed' },
      { kind: 'failover', taskId: 'A', cloneId: 'B', deviceId: 'd1', at: 2 },
      { kind: 'submit', taskId: 'B', at: 2 },
      { kind: 'failover', taskId: 'B', cloneId: 'C', deviceId: 'd2', at: 3 },
      { kind: 'complete', taskId: 'C', attempt: 1, deviceId: 'd3', at: 4, result: 1 },
      { kind: 'complete', taskId: 'X', attempt: 1, deviceId: 'd3', at: 4, result: 2 }
    ] as NodeEvent[]
    for (const e of events) emit(e)
    await turn()
    assert.deepEqual(a.frames().map(f => `${f.kind} ${f.taskId}`), ['submit A', 'error A', 'failover A', 'submit B', 'failover B', 'complete C'])
    assert.equal(all.frames().length, events.length)
  })

  it('follows a drain hand-off\'s clone from its submit, while the task still runs', async () => {
    const a = await subscribe('taskId=A')
    const events: NodeEvent[] = [
      { kind: 'start', taskId: 'A', attempt: 1, deviceId: 'd1', at: 1 },
      { kind: 'submit', taskId: 'Y', at: 2, replaces: 'Q' }, // another task's clone
      { kind: 'submit', taskId: 'B', at: 2, replaces: 'A' }, // the hand-off's clone: A keeps running on d1
      { kind: 'schedule', taskId: 'B', attempt: 1, deviceId: 'd2', at: 3 },
      { kind: 'start', taskId: 'B', attempt: 1, deviceId: 'd2', at: 4 },
      { kind: 'schedule', taskId: 'Y', attempt: 1, deviceId: 'd2', at: 4 },
      { kind: 'error', taskId: 'A', attempt: 1, deviceId: 'd1', at: 5, error: { type: 'cancelled', message: 'handed off' }, final: false, status: 'cancelled' },
      { kind: 'failover', taskId: 'A', cloneId: 'B', deviceId: 'd1', at: 5 },
      { kind: 'complete', taskId: 'B', attempt: 1, deviceId: 'd2', at: 6, result: 1 }
    ] as NodeEvent[]
    for (const e of events) emit(e)
    await turn()
    assert.deepEqual(a.frames().map(f => `${f.kind} ${f.taskId}`),
      ['start A', 'submit B', 'schedule B', 'start B', 'error A', 'failover A', 'complete B'])
  })

  it('keeps the task asked for while a drain hands it off again and again', async () => {
    const a = await subscribe('taskId=A&kinds=progress,complete')
    for (let i = 0; i < 150; i++) emit({ kind: 'submit', taskId: `A-h${i}`, at: i, replaces: 'A' } as NodeEvent)
    emit({ kind: 'progress', taskId: 'A', attempt: 1, deviceId: 'd1', at: 200, progress: 50 } as unknown as NodeEvent)
    emit({ kind: 'complete', taskId: 'A', attempt: 1, deviceId: 'd1', at: 201, result: 1 } as NodeEvent)
    await turn()
    assert.deepEqual(a.frames().map(f => `${f.kind} ${f.taskId}`), ['progress A', 'complete A'])
  })

  it('follows a long chain of clones to its end, keeping a bounded set of ids', async () => {
    // failover events not sent to this client: it follows the clones all the same
    const a = await subscribe('taskId=T0&kinds=complete')
    for (let i = 0; i < 1000; i++) emit({ kind: 'failover', taskId: `T${i}`, cloneId: `T${i + 1}`, deviceId: 'd', at: i } as NodeEvent)
    emit({ kind: 'complete', taskId: 'T1000', attempt: 1, deviceId: 'd', at: 1000, result: 'end' } as NodeEvent)
    await turn()
    const got = a.frames()
    assert.deepEqual(got, [{ kind: 'complete', taskId: 'T1000' }])
    const clients = (hub as unknown as { clients: Set<{ follow?: Set<string> }> }).clients
    for (const c of clients) assert.ok(c.follow !== undefined && c.follow.size <= 100, `${c.follow?.size ?? 'no'} ids followed`)
  })
})
