// The RawNode facade: the Ready/advance contract and input validation (typed errors, no change).
import assert from 'node:assert/strict'
import { Packr } from 'msgpackr'
import { RaftInputError } from '../../src/protocol/raft/errors.js'
import { InstantCluster } from '../sim/instant-cluster.js'
import { bytes, flush, single } from '../sim/unit-helpers.js'
import type { Message } from '../../src/protocol/raft/types.js'

describe('raft RawNode', () => {
  it('refuses local-only and malformed messages from the wire, changing nothing', () => {
    const n = single('a', ['a', 'b'])
    const bad: Array<[Partial<Message>, RegExp]> = [
      [{ type: 'hup', from: 'b', to: 'a', term: 0 }, /local-only/],
      [{ type: 'prop', from: 'b', to: 'a', term: 0 }, /local-only/],
      [{ type: 'snapStatus', from: 'b', to: 'a', term: 0 }, /local-only/],
      [{ type: 'nope' as 'app', from: 'b', to: 'a', term: 0 }, /message.type/],
      [{ type: 'app', from: '', to: 'a', term: 1 }, /message.from/],
      [{ type: 'app', from: 'b', to: 'a', term: -1 }, /message.term/],
      [{ type: 'app', from: 'b', to: 'z', term: 1 }, /message.to/]
    ]
    for (const [m, re] of bad) {
      assert.throws(() => n.raw.step(m as Message), (e: Error) => e instanceof RaftInputError && re.test(e.message), JSON.stringify(m))
    }
    assert.equal(n.raw.hasReady(), false)
    assert.equal(n.raw.status().term, 0)
  })

  it('validates its configuration with errors naming the field', () => {
    assert.throws(() => single('a', ['a'], { electionTick: 1 }), /electionTick/)
    assert.throws(() => single('a', ['a'], { maxInflightMsgs: 0 }), /maxInflightMsgs/)
    assert.throws(() => single('', ['a']), /invalid id/)
  })

  it('hands out one Ready at a time; advance must get that Ready', () => {
    const n = single('a', ['a'])
    n.raw.campaign()
    const rd = n.raw.ready()
    assert.throws(() => n.raw.ready(), /not advanced/)
    assert.throws(() => n.raw.advance({ ...rd }), /last Ready/)
    n.storage.save({ entries: rd.entries, hardState: rd.hardState })
    n.raw.advance(rd)
    flush(n)
    assert.equal(n.raw.status().role, 'leader')
  })

  it('a single-voter node commits its own proposals at once', () => {
    const n = single('a', ['a'])
    n.raw.campaign(); flush(n)
    n.raw.proposeBatch([bytes('1'), bytes('2')])
    flush(n)
    assert.equal(n.applied.filter(e => e.data.length > 0).length, 2)
  })

  it('every message in a Ready is plain data that survives msgpack', () => {
    const packr = new Packr({ useRecords: false })
    const seen: Message[] = []
    const c = new InstantCluster(['a', 'b', 'c'], { snapshotEvery: 3 })
    const orig = c.node('a').drain.bind(c.node('a'))
    c.node('a').drain = (send, max) => orig(m => { seen.push(m); send(m) }, max)
    c.elect('a')
    for (let i = 0; i < 5; i++) c.propose('a', `x${i}`)
    c.node('a').raw.readIndex(bytes('r'))
    c.tick()
    assert.ok(seen.length > 10)
    const norm = (x: unknown): unknown => {
      if (x instanceof Uint8Array) return [...x]
      if (Array.isArray(x)) return x.map(norm)
      if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, norm(v)]))
      return x
    }
    for (const m of seen) assert.deepEqual(norm(packr.unpack(packr.pack(m))), norm(m))
    assert.ok(seen.some(m => m.type === 'snap') || seen.some(m => m.type === 'app'))
  })
})
