// Round-trips of every wire message type and Raft command, rejection of invalid bodies with the
// failing path named, and seeded truncation / bit-flip fuzzing of valid messages (DecodeError only).
import assert from 'node:assert/strict'
import { decode, decodeCommands, encode, encodeCommands, ENVELOPE_VERSION, RECORDS_FROM_ITEMS, type SchemaTable } from '../../src/protocol/codec.js'
import { DecodeError, EncodeError } from '../../src/protocol/errors.js'
import { ALL_MESSAGES, BID_MESSAGES, CLIENT_MESSAGES, EXEC_MESSAGES, RAFT_MESSAGES } from '../../src/protocol/messages.js'
import { MAX_BID_BYTES, MAX_FRAME_BYTES, MAX_RAFT_FRAME_BYTES, PLAIN_MAX_BYTES } from '../../src/protocol/limits.js'
import type { TaskData, DeviceBid } from '../../src/sched/types.js'
import type { Command, TaskRecord } from '../../src/sched/commands.js'
import type { Message } from '../../src/protocol/raft/types.js'
import { Packr } from 'msgpackr'
import { mulberry32 } from '../../src/sched/rng.js'


const task = (i = 0): TaskData => ({
  id: `01HZX${String(i).padStart(21, '0')}`,
  taskType: 'echo',
  payload: { message: `hello ${i}`, n: i, nested: { list: [1, 2, 3], bin: new Uint8Array([1, 2]) } },
  priority: 3,
  requirements: {
    minCpuCores: 1, minMemoryGb: 0.5, minStorageGb: 0, requiredPlatform: 'linux', timeoutSeconds: 300, maxRetries: 3,
    requiresInternet: false, bandwidthMbps: 0, requiresGpu: false, requiresSensors: [], exclusive: false, excludeDevices: ['12D3KooWdead']
  },
  batchId: 'batch-1',
  sandboxConfig: { allowNetwork: false, allowFilesystem: true, allowedPaths: ['/tmp'], maxFileSizeBytes: 1e6, maxExecutionTimeSeconds: 60, memoryLimitBytes: 1e8, cpuLimitPercent: 50 },
  requiredPermissions: ['read_files'],
  retryCount: 0,
  createdAt: 1_700_000_000_000
})

const record: TaskRecord = {
  id: task().id, taskType: 'echo', status: 'running', priority: 3, task: task(), deviceId: 'dev1',
  attempts: [{ attempt: 1, deviceId: 'dev1', status: 'running', assignedAt: 5 }], progress: 40, createdAt: 1, submittedAt: 2
}

const bid: DeviceBid = {
  nodeId: '12D3KooWabc', name: 'old-laptop', incarnation: 3, seq: 99, role: 'compute', platform: 'linux', arch: 'x64',
  cpuCores: 4, memoryGb: 8, storageGb: 100, gpu: false, sensors: [], battery: { percent: 80, charging: true }, internet: true,
  bandwidthMbps: 100, taskTypes: ['echo', 'sleep'], permissions: ['read_files', 'write_files'],
  sandbox: { network: true, memory: true, cpu: false, filesystem: true }, cpuUsage: 12.5, memoryUsage: 40, memoryUsedGb: 3.2,
  activeTasks: 1, maxConcurrentTasks: 4, latencyMs: 3,
  cluster: { member: true, leaderId: null, term: 2 }, apiUrl: 'http://127.0.0.1:8080', addrs: ['/ip4/127.0.0.1/tcp/4001']
}

const raftMessages: Message[] = [
  { type: 'app', from: 'a', to: 'b', term: 3, logTerm: 2, index: 10, commit: 9, entries: [
    { term: 3, index: 11, type: 'normal', data: encodeCommands([{ type: 'deviceDown', at: 1, deviceId: 'x' }]) },
    { term: 3, index: 12, type: 'conf', data: new Uint8Array([9, 9]) },
    { term: 3, index: 13, type: 'normal', data: new Uint8Array(0) }] },
  { type: 'appResp', from: 'b', to: 'a', term: 3, index: 13, reject: true, rejectHint: 7, logTerm: 2 },
  { type: 'vote', from: 'a', to: 'b', term: 4, logTerm: 3, index: 13 },
  { type: 'voteResp', from: 'b', to: 'a', term: 4, reject: false },
  { type: 'preVote', from: 'a', to: 'b', term: 5, logTerm: 3, index: 13 },
  { type: 'preVoteResp', from: 'b', to: 'a', term: 5, reject: true },
  { type: 'heartbeat', from: 'a', to: 'b', term: 4, commit: 13, context: new Uint8Array([1]) },
  { type: 'heartbeatResp', from: 'b', to: 'a', term: 4, context: new Uint8Array([1]) },
  { type: 'snap', from: 'a', to: 'b', term: 4, snapshot: { meta: { index: 100, term: 4, conf: { voters: ['a', 'b'], learners: ['c'] } }, data: new Uint8Array(1000).fill(7) } },
  { type: 'transferLeader', from: 'b', to: 'a', term: 4 },
  { type: 'timeoutNow', from: 'a', to: 'b', term: 4 },
  { type: 'readIndex', from: 'b', to: 'a', term: 4, context: new Uint8Array([4, 2]) },
  { type: 'readIndexResp', from: 'a', to: 'b', term: 4, index: 13, context: new Uint8Array([4, 2]) }
]

const commands: Command[] = [
  { type: 'submit', requestId: 'c1-1', principal: 'admin', at: 10, tasks: [task(1), task(2)], batch: { id: 'batch-1', name: 'b', description: 'd' } },
  { type: 'submit', requestId: 'c1-2', principal: 'admin', at: 11, tasks: [task(3)], workflow: { id: 'wf', name: 'w', steps: [{ name: 's1', task: task(3), dependsOn: [] }] } },
  { type: 'assign', at: 12, assignments: [{ taskId: 't1', attempt: 1, deviceId: 'd1' }, { taskId: 't2', attempt: 2, deviceId: 'd2' }] },
  { type: 'started', at: 13, taskId: 't1', attempt: 1, deviceId: 'd1' },
  { type: 'finished', at: 14, results: [{ taskId: 't1', attempt: 1, deviceId: 'd1', status: 'completed', result: { out: 'x' }, startedAt: 13, finishedAt: 14, resourceUsage: { cpu: 5, memory: 20 } },
    { taskId: 't2', attempt: 2, deviceId: 'd2', status: 'failed', error: { type: 'execution_error', message: 'boom', details: { code: 1 } }, startedAt: 13, finishedAt: 14 }] },
  { type: 'refused', at: 15, taskId: 't3', attempt: 1, deviceId: 'd1', reason: 'no capacity' },
  { type: 'deviceDown', at: 16, deviceId: 'd2' },
  { type: 'cancel', at: 17, taskId: 't4', principal: 'admin' },
  { type: 'expire', at: 18, taskId: 't5', attempt: 2 },
  { type: 'setRole', at: 19, principal: 'bob', role: 'operator', by: 'admin' },
  { type: 'setRole', at: 20, principal: 'bob', role: null, by: 'admin' }
]

const err = { type: 'invalid_payload', message: 'bad', field: 'tasks[0].priority' }
const clientSamples: Record<keyof typeof CLIENT_MESSAGES, unknown[]> = {
  submit: [{ reqId: 1, requestId: 'r1', tasks: [task(1)] }, { reqId: 2, requestId: 'r2', principal: 'p', tasks: [task(1)], batch: { id: 'b', name: 'n' } }],
  submitRes: [{ reqId: 1, ok: true, taskIds: ['a', 'b'] }, { reqId: 1, ok: true, taskIds: [], duplicate: true }, { reqId: 1, ok: false, error: err },
    { reqId: 1, ok: false, error: { type: 'not_leader', message: 'ask b' }, notLeader: true, leaderHint: '12D3KooWb' }, { reqId: 1, ok: false, error: err, notLeader: true, leaderHint: null }],
  cancel: [{ reqId: 3, taskId: 't' }, { reqId: 3, taskId: 't', principal: 'p' }],
  cancelRes: [{ reqId: 3, ok: true, task: record }, { reqId: 3, ok: false, error: { type: 'not_found', message: 'no such task' } }],
  liveTasks: [{ reqId: 4, taskIds: ['t', 'u'] }],
  liveTasksRes: [{ reqId: 4, ok: true, tasks: [] }, { reqId: 4, ok: true, tasks: [{ taskId: 't', attempt: 1, progress: 40, resourceUsage: { cpu: 1, memory: 2 } }, { taskId: 'u', attempt: 0, pendingReason: 'no device has a GPU' }] }],
  setRole: [{ reqId: 10, principal: 'bob', role: 'viewer' }, { reqId: 10, principal: 'bob', role: null, by: 'admin' }],
  setRoleRes: [{ reqId: 10, ok: true }],
  settings: [{ reqId: 11, settings: { maxQueueSize: 500, rateLimits: null } }, { reqId: 11, settings: { preemption: { enabled: false } }, by: 'admin', waitMs: 4000 }],
  settingsRes: [{ reqId: 11, ok: true, settings: { maxQueueSize: 500 } }, { reqId: 11, ok: false, error: { type: 'permission_denied', message: 'no' } }],
  error: [{ ok: false, error: { type: 'invalid_payload', message: "decode failed (invalid_body): 'submit' tasks[0].priority: ..." } }, { ok: false, error: err, reqId: 4 }]
}

const execSamples: Record<keyof typeof EXEC_MESSAGES, unknown[]> = {
  assignBatch: [{ leaderTerm: 4, items: [{ taskId: 't', attempt: 1, task: task() }] }],
  assignBatchRes: [{ replies: [{ taskId: 't', attempt: 1, accepted: true }, { taskId: 't', attempt: 1, accepted: false, reason: 'no free slot' }] }],
  results: [{ results: (commands[4] as { results: unknown[] }).results }],
  resultsAck: [{ keys: ['t:1'] }, { keys: [], notLeader: true }],
  started: [{ taskId: 't', attempt: 1, startedAt: 5 }],
  progress: [{ taskId: 't', attempt: 1, progress: 50 }, { taskId: 't', attempt: 1, progress: 100, resourceUsage: { cpu: 1, memory: 2 } }],
  cancelAttempt: [{ taskId: 't', attempt: 1 }],
  ping: [{ nonce: 1 }, { nonce: 2, at: 5 }],
  pong: [{ nonce: 1 }, { nonce: 2, at: 5 }]
}

/** every (table, type, body) sample, for round-trips and fuzzing */
const allSamples: Array<{ table: SchemaTable, type: string, body: unknown }> = [
  ...raftMessages.map(body => ({ table: RAFT_MESSAGES, type: 'raft', body })),
  // a piece of a snapshot sent in chunks (src/node/cluster/snapshot-transfer.ts)
  { table: RAFT_MESSAGES, type: 'snapChunk', body: { msg: { type: 'snap', from: 'a', to: 'b', term: 4, snapshot: { meta: { index: 100, term: 4, conf: { voters: ['a', 'b'], learners: [] } }, data: new Uint8Array(0) } }, offset: 4096, total: 10_000, data: new Uint8Array(4096).fill(9) } },
  { table: BID_MESSAGES, type: 'bid', body: bid },
  ...Object.entries(clientSamples).flatMap(([type, bodies]) => bodies.map(body => ({ table: CLIENT_MESSAGES as SchemaTable, type, body }))),
  ...Object.entries(execSamples).flatMap(([type, bodies]) => bodies.map(body => ({ table: EXEC_MESSAGES as SchemaTable, type, body })))
]

function expectDecodeError (f: () => unknown, reason?: string, path?: string): DecodeError {
  try { f() } catch (e) {
    assert.ok(e instanceof DecodeError, `expected DecodeError, got ${String(e)}`)
    if (reason !== undefined) assert.equal(e.reason, reason, e.message)
    if (path !== undefined) assert.equal(e.path, path, e.message)
    return e
  }
  assert.fail('expected a DecodeError')
}

describe('codec: wire messages', () => {
  it('round-trips every message type (bytes come back as plain Uint8Array)', () => {
    const types = new Set<string>()
    for (const { table, type, body } of allSamples) {
      const bytes = encode(type, body)
      const got = decode(bytes, table)
      assert.equal(got.type, type)
      assert.deepEqual(got.body, body)
      types.add(`${Object.keys(table).join()}:${type}`)
    }
    // every type of every table has at least one sample
    for (const table of [RAFT_MESSAGES, BID_MESSAGES, CLIENT_MESSAGES, EXEC_MESSAGES]) {
      for (const t of Object.keys(table)) assert.ok(types.has(`${Object.keys(table).join()}:${t}`), `no sample for ${t}`)
    }
    // every wire Raft message type is covered
    assert.equal(new Set(raftMessages.map(m => m.type)).size, 13)
    const app = decode(encode('raft', raftMessages[0]), RAFT_MESSAGES).body
    assert.equal(Object.getPrototypeOf(app.entries![0].data), Uint8Array.prototype)
  })

  it('decodes any message with the default table (all protocols, unique type names)', () => {
    const n = Object.keys(RAFT_MESSAGES).length + Object.keys(BID_MESSAGES).length + Object.keys(CLIENT_MESSAGES).length + Object.keys(EXEC_MESSAGES).length
    assert.equal(Object.keys(ALL_MESSAGES).length, n)
    for (const { type, body } of allSamples) assert.deepEqual(decode(encode(type, body)), { type, body })
    expectDecodeError(() => decode(encode('nope', {})), 'unknown_type')
  })

  it('sends a small message as plain msgpack maps and one with a list of items as records; reads both from any peer', () => {
    const opts = { copyBuffers: true, mapsAsObjects: true, moreTypes: false }
    const plain = new Packr({ ...opts, useRecords: false })
    const records = new Packr({ ...opts, useRecords: true })
    const one = { requestId: 'r1', principal: 'p', tasks: [task(1)] }
    assert.deepEqual(encode('submit', one), new Uint8Array(plain.pack([ENVELOPE_VERSION, 'submit', one])))
    const many = { requestId: 'r2', principal: 'p', tasks: Array.from({ length: RECORDS_FROM_ITEMS }, (_, i) => task(i)) }
    const manyBytes = encode('submit', many)
    assert.deepEqual(manyBytes, new Uint8Array(records.pack([ENVELOPE_VERSION, 'submit', many])))
    assert.ok(manyBytes.byteLength < plain.pack([ENVELOPE_VERSION, 'submit', many]).byteLength)
    // a long list nested below the body's own fields: plain would be over PLAIN_MAX_BYTES, so records
    const nested = { workflow: { steps: Array.from({ length: 200 }, (_, i) => ({ name: `s${i}`, task: task(i) })) } }
    assert.ok(plain.pack([ENVELOPE_VERSION, 'x', nested]).byteLength > PLAIN_MAX_BYTES)
    assert.deepEqual(encode('x', nested), new Uint8Array(records.pack([ENVELOPE_VERSION, 'x', nested])))
    // whichever encoding a peer chose, every message decodes to the same thing
    for (const { table, type, body } of allSamples) {
      for (const p of [plain, records]) assert.deepEqual(decode(new Uint8Array(p.pack([ENVELOPE_VERSION, type, body])), table), { type, body })
    }
  })

  it('round-trips every command kind through encodeCommands/decodeCommands', () => {
    const got = decodeCommands(encodeCommands(commands))
    assert.deepEqual(got, commands)
    assert.deepEqual(new Set(got.map(c => c.type)).size, 9)
  })

  it('rejects a message of another protocol as unknown_type', () => {
    expectDecodeError(() => decode(encode('raft', raftMessages[2]), EXEC_MESSAGES), 'unknown_type')
    expectDecodeError(() => decode(encode('assignBatch', execSamples.assignBatch[0]), CLIENT_MESSAGES), 'unknown_type')
    expectDecodeError(() => decode(encode('toString', {}), CLIENT_MESSAGES), 'unknown_type')
    expectDecodeError(() => decode(encode('__proto__', {}), CLIENT_MESSAGES), 'unknown_type')
  })

  it('rejects a bad envelope and a foreign version', () => {
    const p = new Packr({ useRecords: false })
    expectDecodeError(() => decode(p.pack({ v: 1, t: 'raft', b: {} }), RAFT_MESSAGES), 'bad_envelope')
    expectDecodeError(() => decode(p.pack([1, 'raft']), RAFT_MESSAGES), 'bad_envelope')
    expectDecodeError(() => decode(p.pack([1, 7, {}]), RAFT_MESSAGES), 'bad_envelope')
    expectDecodeError(() => decode(p.pack([ENVELOPE_VERSION + 1, 'raft', raftMessages[2]]), RAFT_MESSAGES), 'bad_version')
    expectDecodeError(() => decode(new Uint8Array(0), RAFT_MESSAGES), 'empty')
    const ok = encode('raft', raftMessages[2])
    const trailing = new Uint8Array(ok.length + 1); trailing.set(ok)
    expectDecodeError(() => decode(trailing, RAFT_MESSAGES), 'malformed')
  })

  it('names the failing path of an invalid body', () => {
    const badTerm = { ...raftMessages[0], entries: [raftMessages[0].entries![0], { ...raftMessages[0].entries![1], term: -1 }] }
    expectDecodeError(() => decode(encode('raft', badTerm), RAFT_MESSAGES), 'invalid_body', 'entries[1].term')
    const badPrio = { reqId: 1, requestId: 'r', tasks: [task(), { ...task(), priority: 9 }] }
    const e = expectDecodeError(() => decode(encode('submit', badPrio), CLIENT_MESSAGES), 'invalid_body', 'tasks[1].priority')
    assert.match(e.message, /tasks\[1\]\.priority/)
    const extra = { ...task(), sneaky: true }
    expectDecodeError(() => decode(encode('submit', { reqId: 1, requestId: 'r', tasks: [extra] }), CLIENT_MESSAGES), 'invalid_body', 'tasks[0].sneaky')
    expectDecodeError(() => decode(encode('raft', { ...raftMessages[2], type: 'hup' }), RAFT_MESSAGES), 'invalid_body', 'type')
    expectDecodeError(() => decode(encode('bid', { ...bid, cpuUsage: 101 }), BID_MESSAGES), 'invalid_body', 'cpuUsage')
    expectDecodeError(() => decode(encode('bid', { ...bid, cluster: { member: true, leaderId: 5, term: 1 } }), BID_MESSAGES), 'invalid_body', 'cluster.leaderId')
    expectDecodeError(() => decode(encode('submitRes', { reqId: 1, ok: false, error: { message: 'x' } }), CLIENT_MESSAGES), 'invalid_body', 'error.type')
    expectDecodeError(() => decodeCommands(encodeCommands([{ ...commands[2], assignments: [{ taskId: 't', attempt: 1.5, deviceId: 'd' }] } as Command])), 'invalid_body', '[0].assignments[0].attempt')
    expectDecodeError(() => decodeCommands(encodeCommands([{ type: 'explode', at: 1 } as unknown as Command])), 'invalid_body', '[0].type')
  })

  it('enforces size caps: frame, bid, task payload, batch size', () => {
    const huge = { reqId: 1, requestId: 'r', tasks: [{ ...task(), payload: { blob: new Uint8Array(MAX_FRAME_BYTES) } }] }
    assert.throws(() => encode('submit', huge), EncodeError)
    const raw = new Packr({ useRecords: false }).pack([1, 'submit', huge])
    expectDecodeError(() => decode(raw, CLIENT_MESSAGES), 'too_large')
    const fatBid = encode('bid', { ...bid, sensors: Array.from({ length: 200 }, (_, i) => `sensor-${i}-${'x'.repeat(100)}`) })
    assert.ok(fatBid.byteLength > MAX_BID_BYTES)
    expectDecodeError(() => decode(fatBid, BID_MESSAGES, MAX_BID_BYTES), 'too_large')
    const fatPayload = { reqId: 1, requestId: 'r', tasks: [{ ...task(), payload: 'x'.repeat(1024 * 1024 + 10) }] }
    expectDecodeError(() => decode(encode('submit', fatPayload), CLIENT_MESSAGES), 'invalid_body', 'tasks[0].payload')
    const tiny = { ...task(), payload: undefined }
    const many = { reqId: 1, requestId: 'r', tasks: Array.from({ length: 10_001 }, () => tiny) }
    const big = 64 * 1024 * 1024 // the count cap holds even where a caller allows bigger frames
    expectDecodeError(() => decode(encode('submit', many, big), CLIENT_MESSAGES, big), 'invalid_body', 'tasks')
  })

  it('accepts what the sched parser accepts at its limits (JSON-sized payload, 1024 excluded devices, 256-char keys)', () => {
    const payload = new Array(400_000).fill(1) // JSON ~800 KB, under sched's 1 MiB cap
    assert.ok(JSON.stringify(payload).length < 1024 * 1024)
    const t = { ...task(), payload, batchId: 'b'.repeat(256), idempotencyKey: 'k'.repeat(256),
      requirements: { ...task().requirements, excludeDevices: Array.from({ length: 1024 }, (_, i) => `12D3KooW${i}`) } }
    const got = decode(encode('submit', { reqId: 1, requestId: 'r', tasks: [t] }), CLIENT_MESSAGES)
    assert.equal(got.type, 'submit')
  })

  it('a snapshot bigger than the client frame cap crosses the Raft stream (its own, larger cap)', () => {
    const snap: Message = { type: 'snap', from: 'a', to: 'b', term: 4, snapshot: { meta: { index: 9, term: 4, conf: { voters: ['a'], learners: [] } }, data: new Uint8Array(6 * 1024 * 1024).fill(3) } }
    assert.throws(() => encode('raft', snap), EncodeError)
    const bytes = encode('raft', snap, MAX_RAFT_FRAME_BYTES)
    expectDecodeError(() => decode(bytes, RAFT_MESSAGES), 'too_large')
    const got = decode(bytes, RAFT_MESSAGES, MAX_RAFT_FRAME_BYTES).body
    assert.equal(got.snapshot!.data.byteLength, 6 * 1024 * 1024)
  })

  it('truncated and bit-flipped valid messages give DecodeError or a valid message, never anything else (seeded)', () => {
    const rng = mulberry32(42)
    let rejected = 0
    let total = 0
    for (const { table, type, body } of allSamples) {
      const bytes = encode(type, body)
      for (let cut = 0; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 40))) {
        total++
        expectDecodeError(() => decode(bytes.subarray(0, cut), table)) // every strict prefix is invalid
        rejected++
      }
      for (let k = 0; k < 60; k++) {
        const m = bytes.slice()
        const flips = 1 + Math.floor(rng() * 3)
        for (let f = 0; f < flips; f++) m[Math.floor(rng() * m.length)] ^= 1 << Math.floor(rng() * 8)
        total++
        try {
          const got = decode(m, table)
          assert.ok(Object.prototype.hasOwnProperty.call(table, got.type)) // a still-valid message
        } catch (e) {
          assert.ok(e instanceof DecodeError, `seed 42 sample ${type}: ${String(e)}`)
          rejected++
        }
      }
    }
    assert.ok(total > 3000, `only ${total} cases`)
    assert.ok(rejected > total / 2)
  })
})
