// A snapshot bigger than one chunk crosses the Raft stream in 'snapChunk' frames and is put
// together by the receiver (src/node/cluster/snapshot-transfer.ts): through the real codec and
// schema, in order, one per sender; pieces out of order, of another snapshot, or over the caps
// change nothing; a transfer that stops coming is dropped.
import assert from 'node:assert/strict'
import { decode } from '../../src/protocol/codec.js'
import { RAFT_MESSAGES } from '../../src/protocol/messages.js'
import { MAX_RAFT_FRAME_BYTES, MAX_SNAPSHOT_TRANSFER_BYTES } from '../../src/protocol/limits.js'
import type { Message } from '../../src/protocol/raft/types.js'
import { SnapshotAssembler, snapshotFrames, type SnapChunk } from '../../src/node/cluster/snapshot-transfer.js'

function snapMsg (bytes: number, index = 100, term = 3): Message {
  const data = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) data[i] = (i * 31 + index) & 255
  return { type: 'snap', from: 'L', to: 'F', term, snapshot: { meta: { index, term, conf: { voters: ['L', 'F'], learners: [] } }, data } } as Message
}
const wire = (f: Uint8Array): ReturnType<typeof decode<typeof RAFT_MESSAGES>> => decode(f, RAFT_MESSAGES, MAX_RAFT_FRAME_BYTES)

describe('snapshot transfer in pieces', () => {
  it('a small snapshot is one ordinary raft frame', () => {
    const frames = snapshotFrames(snapMsg(1000), 4096)
    assert.equal(frames.length, 1)
    const d = wire(frames[0]!)
    assert.equal(d.type, 'raft')
    assert.deepEqual((d.body as Message).snapshot!.data, snapMsg(1000).snapshot!.data)
  })

  it('a big one goes in pieces through the codec and comes out whole, once its last piece is in', () => {
    const m = snapMsg(10_000)
    const frames = snapshotFrames(m, 4096)
    assert.equal(frames.length, 3)
    const a = new SnapshotAssembler()
    const out: Array<Message | undefined> = frames.map(f => { const d = wire(f); assert.equal(d.type, 'snapChunk'); return a.add('L', d.body as SnapChunk) })
    assert.deepEqual(out.slice(0, 2), [undefined, undefined])
    assert.deepEqual(out[2], m)
    assert.equal(a.pending, 0)
  })

  it('a piece out of order, or of another snapshot, starts over; a later piece without its start is dropped', () => {
    const m1 = snapMsg(10_000, 100)
    const m2 = snapMsg(10_000, 200)
    const p1 = snapshotFrames(m1, 4096).map(f => wire(f).body as SnapChunk)
    const p2 = snapshotFrames(m2, 4096).map(f => wire(f).body as SnapChunk)
    const a = new SnapshotAssembler()
    assert.equal(a.add('L', p1[1]!), undefined, 'no start: dropped')
    assert.equal(a.pending, 0)
    a.add('L', p1[0]!)
    assert.equal(a.add('L', p1[2]!), undefined, 'a gap: the transfer is given up')
    assert.equal(a.pending, 0)
    a.add('L', p1[0]!)
    a.add('L', p2[0]!) // the leader's newer snapshot replaces the one under way
    a.add('L', p2[1]!)
    assert.deepEqual(a.add('L', p2[2]!), m2)
    // two senders at once do not mix
    a.add('L', p1[0]!); a.add('M', { ...p2[0]!, msg: { ...p2[0]!.msg, from: 'M' } })
    a.add('L', p1[1]!)
    assert.deepEqual(a.add('L', p1[2]!), m1)
    assert.equal(a.pending, 1)
    a.close()
  })

  it('refuses pieces over the caps or past their total, changing nothing', () => {
    const [first] = snapshotFrames(snapMsg(10_000), 4096).map(f => wire(f).body as SnapChunk)
    const a = new SnapshotAssembler()
    assert.throws(() => a.add('L', { ...first!, total: MAX_SNAPSHOT_TRANSFER_BYTES + 1 }), /transfer cap/)
    assert.throws(() => a.add('L', { ...first!, total: 100 }), /runs past its total/)
    assert.throws(() => a.add('L', { ...first!, msg: { ...first!.msg, type: 'app' } }), /carrying a 'app' message/)
    assert.equal(a.pending, 0)
    assert.throws(() => snapshotFrames({ type: 'app', from: 'L', to: 'F', term: 1 } as Message), /not a 'snap'/)
  })

  it('drops a transfer that stops coming', async () => {
    const [first] = snapshotFrames(snapMsg(10_000), 4096).map(f => wire(f).body as SnapChunk)
    const a = new SnapshotAssembler(50)
    a.add('L', first!)
    assert.equal(a.pending, 1)
    await new Promise(resolve => setTimeout(resolve, 120))
    assert.equal(a.pending, 0)
  })
})
