// ClusterCore: what it proposes always decodes (a command that would not is refused to its caller
// and shares no entry), packing respects the entry caps, the wait honours the caller's deadline,
// and a committed entry that cannot be applied halts the core instead of being skipped.
import assert from 'node:assert/strict'
import { ClusterCore, packEntries, waitKey } from '../../src/node/cluster/core.js'
import { createLogger } from '../../src/node/log.js'
import { NodeHaltedError, UnproposableCommandError, WaitTimeoutError } from '../../src/node/errors.js'
import { decodeCommands, encodeCommands } from '../../src/protocol/codec.js'
import { ENTRY_PACK_TARGET_BYTES, MAX_COMMANDS_PER_ENTRY, MAX_ENTRY_DATA_BYTES, MAX_NAME_LENGTH, MAX_WORKFLOW_STEPS } from '../../src/protocol/limits.js'
import type { Command } from '../../src/sched/commands.js'
import type { Entry } from '../../src/protocol/raft/types.js'
import { submit, task, T0 } from './state-fixtures.js'

const silent = createLogger('core-test', 'silent')

function workflowSubmit (steps: number): Command {
  return submit([], {
    workflow: {
      id: `wf-${steps}`,
      name: 'wf',
      steps: Array.from({ length: steps }, (_, i) => ({ name: `s${i}`, task: task(`w${steps}-${i}`), dependsOn: i === 0 ? [] : [`s${i - 1}`] }))
    }
  })
}

/** A core whose proposer records entries; `commit()` applies them as Raft would. */
function harness (): { core: ClusterCore, proposed: Uint8Array[], commit: () => void } {
  const core = new ClusterCore(silent)
  const proposed: Uint8Array[] = []
  let index = 1
  core.bindProposer(data => { proposed.push(data) })
  return {
    core,
    proposed,
    commit: () => { for (const data of proposed.splice(0)) core.applyEntry({ term: 1, index: ++index, type: 'normal', data }) }
  }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('cluster core: entries', () => {
  it('refuses a command the decoder would refuse, at once, and proposes the others without it', async () => {
    const { core, proposed, commit } = harness()
    const good1 = submit([task('a')])
    const bad = workflowSubmit(MAX_WORKFLOW_STEPS + 1)
    const good2 = submit([task('b')])
    const p1 = core.proposeAndWait(good1, 5000)
    const pBad = core.proposeAndWait(bad, 5000)
    const p2 = core.proposeAndWait(good2, 5000)
    const err = await pBad.then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof UnproposableCommandError, String(err))
    assert.equal(err.type, 'invalid_payload')
    assert.equal(err.field, 'workflow.steps')
    assert.match(err.message, /array longer than 1000 \(1001\)/)
    // nothing proposed contains the bad command; everything proposed decodes
    const all = proposed.flatMap(d => decodeCommands(d))
    assert.deepEqual(all.map(c => waitKey(c)).sort(), [waitKey(good1), waitKey(good2)].sort())
    commit()
    assert.deepEqual(((await p1).reply as { taskIds: string[] }).taskIds, ['a'])
    assert.deepEqual(((await p2).reply as { taskIds: string[] }).taskIds, ['b'])
    assert.equal(core.halted, undefined)
  })

  it('refuses names over the cap and a command bigger than one entry (typed, with the field)', async () => {
    const { core, proposed } = harness()
    const longName = core.proposeAndWait(submit([task('x')], { batch: { id: 'b', name: 'n'.repeat(MAX_NAME_LENGTH + 1) } }), 5000)
    const e1 = await longName.then(() => undefined, (e: unknown) => e) as UnproposableCommandError
    assert.ok(e1 instanceof UnproposableCommandError)
    assert.equal(e1.field, 'batch.name')
    // ~5 MiB of tasks whose payloads each pass the per-task cap: over MAX_ENTRY_DATA_BYTES together
    const big = Array.from({ length: 6 }, (_, i) => task(`big${i}`, { payload: 'x'.repeat(900_000) }))
    const e2 = await core.proposeAndWait(submit(big), 5000).then(() => undefined, (e: unknown) => e) as UnproposableCommandError
    assert.ok(e2 instanceof UnproposableCommandError, String(e2))
    assert.equal(e2.type, 'payload_too_large')
    assert.equal(proposed.length, 0)
  })

  it('packs within both entry caps: count and bytes, order kept', () => {
    const many: Command[] = Array.from({ length: MAX_COMMANDS_PER_ENTRY + 5 }, (_, i) => ({ type: 'expire', at: T0, taskId: `t${i}`, attempt: 1 }))
    const entries = packEntries(many, () => { assert.fail('nothing to refuse') })
    assert.ok(entries.length >= 2)
    for (const e of entries) assert.ok(decodeCommands(e.data).length <= MAX_COMMANDS_PER_ENTRY)
    assert.deepEqual(entries.flatMap(e => e.cmds), many)
    const heavy = Array.from({ length: 8 }, (_, i) => submit([task(`h${i}`, { payload: 'y'.repeat(700_000) })]))
    const packed = packEntries(heavy, () => { assert.fail('nothing to refuse') })
    assert.ok(packed.length >= 3)
    for (const e of packed) assert.ok(e.data.byteLength <= Math.max(ENTRY_PACK_TARGET_BYTES, encodeCommands([e.cmds[0]!]).byteLength) && e.data.byteLength <= MAX_ENTRY_DATA_BYTES)
    assert.deepEqual(packed.flatMap(e => e.cmds), heavy)
  })

  it('a wait ends at the caller\'s deadline, not a fixed 10 s', async () => {
    const core = new ClusterCore(silent)
    core.bindProposer(() => {}) // proposed, never committed
    const t0 = Date.now()
    const err = await core.proposeAndWait(submit([task('slow')]), 150).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof WaitTimeoutError)
    assert.ok(Date.now() - t0 < 2000, `waited ${Date.now() - t0} ms`)
  })

  it('a committed entry that cannot be decoded halts the core: nothing after it is applied, nothing skipped', async () => {
    const core = new ClusterCore(silent)
    const halts: Array<{ index: number }> = []
    core.onHalt(h => { halts.push(h) })
    const entry = (index: number, data: Uint8Array): Entry => ({ term: 1, index, type: 'normal', data })
    core.applyEntry(entry(2, encodeCommands([submit([task('before')])])))
    const waiting = core.proposeAndWait(submit([task('waiting')]), 5000)
    core.applyEntry(entry(3, new Uint8Array([0xc1, 0xff, 0x00])))
    core.applyEntry(entry(4, encodeCommands([submit([task('after')])])))
    assert.deepEqual(halts.map(h => h.index), [3])
    assert.equal(core.halted?.index, 3)
    assert.match(core.halted!.reason, /could not be decoded/)
    assert.ok(core.state.getTask('before') !== undefined)
    assert.equal(core.state.getTask('after'), undefined)
    assert.ok(await waiting.then(() => undefined, (e: unknown) => e) instanceof NodeHaltedError)
    assert.throws(() => core.snapshotData(), NodeHaltedError)
    assert.ok(await core.proposeAndWait(submit([task('later')]), 5000).then(() => undefined, (e: unknown) => e) instanceof NodeHaltedError)
    await tick()
  })
})
