// /retire-cluster/client: what a node answers when another node forwards a user's request to it
// (only the leader accepts writes), and the forwarding side used by NodeScheduler.
import { decode, encode } from '../../protocol/codec.js'
import { CLIENT_MESSAGES } from '../../protocol/messages.js'
import type { ClusterCore } from '../cluster/core.js'
import type { Command } from '../../sched/commands.js'
import type { LeaderLoop } from '../leader/leader.js'
import type { FramedChannel } from '../transport/framed.js'
import { TRACE_ON, traceMark } from '../trace.js'
import { NodeError, NoLeaderError, UnproposableCommandError } from '../errors.js'
import { DEFAULT_PROPOSE_WAIT_MS } from '../cluster/core.js'
import { EncodeError } from '../../protocol/errors.js'
import { liveFieldsOf } from './live-fields.js'
import type { Logger } from '../log.js'

export interface ClientServiceDeps {
  core: ClusterCore
  leader: LeaderLoop
  isLeader: () => boolean
  leaderId: () => string | null
  now: () => number
  log: Logger
}

type Body = Record<string, any>

/** one decoded request, and how to refuse it */
interface ClientRequest {
  type: string
  body: Body
  from: string
  fail: (errorType: string, message: string, extra?: Body) => Uint8Array
}

type Serve = (d: ClientServiceDeps, req: ClientRequest) => Promise<Uint8Array>

/** Handle one inbound client request; never throws (a bad frame gets an error reply or nothing). */
export async function handleClientRequest (d: ClientServiceDeps, from: string, bytes: Uint8Array): Promise<Uint8Array | undefined> {
  let msg: { type: string, body: Body }
  try {
    msg = decode(bytes, CLIENT_MESSAGES) as { type: string, body: Body }
  } catch (err) {
    d.log.warn(`client: rejected a malformed message from ${from.slice(-8)}`, (err as Error).message)
    return encode('error', { ok: false, error: { type: 'invalid_payload', message: (err as Error).message } })
  }
  const { type, body } = msg
  const fail = (errorType: string, message: string, extra: Body = {}): Uint8Array =>
    encode(`${type}Res`, { reqId: body.reqId as number, ok: false, error: { type: errorType, message }, ...extra })
  const serve = SERVED[type]
  if (serve === undefined) return fail('unsupported_operation', `request type '${type}' is not served here`)
  try {
    return await serve(d, { type, body, from, fail })
  } catch (err) {
    if (err instanceof NoLeaderError) return notLeader(d, fail, err.message)
    if (err instanceof NodeError) return fail(err.type, err.message)
    d.log.error('client request failed', err)
    return fail('internal', (err as Error).message)
  }
}

/** Every request this node serves, by type. Writes and live fields are the leader's alone. */
const SERVED: Record<string, Serve | undefined> = {
  settings: leaderOnly(serveSettings),
  submit: leaderOnly(serveWrite),
  cancel: leaderOnly(serveWrite),
  setRole: leaderOnly(serveWrite),
  // a deposed leader may still hold stale live fields: only the leader answers
  liveTasks: leaderOnly(async (d, { body }) => encode('liveTasksRes', { reqId: body.reqId, ok: true, tasks: liveFieldsOf(d.core.state, d.leader, body.taskIds) }))
}

function leaderOnly (serve: Serve): Serve {
  return async (d, req) => d.isLeader() ? await serve(d, req) : notLeader(d, req.fail, 'not the leader')
}

/** the refusal a forwarding node retries (with the leader we know of, if any) */
function notLeader (d: ClientServiceDeps, fail: ClientRequest['fail'], message: string): Uint8Array {
  return fail('no_leader', message, { notLeader: true, leaderHint: d.leaderId() })
}

/** the forwarding node's remaining deadline for the proposal (older nodes send none) */
function waitMsOf (body: Body): number {
  return typeof body.waitMs === 'number' ? body.waitMs : DEFAULT_PROPOSE_WAIT_MS
}

async function serveSettings (d: ClientServiceDeps, { body, from }: ClientRequest): Promise<Uint8Array> {
  const out = await d.core.proposeAndWait({ type: 'settings', at: d.now(), by: body.by ?? `peer:${from}`, settings: body.settings }, waitMsOf(body))
  if (out.reply !== undefined && !out.reply.ok) return encode('settingsRes', { reqId: body.reqId, ok: false, error: out.reply.error })
  return encode('settingsRes', { reqId: body.reqId, ok: true, settings: d.core.state.clusterSettings() })
}

/** submit, cancel and setRole: the command, proposed and waited for; the reply says what it did */
async function serveWrite (d: ClientServiceDeps, req: ClientRequest): Promise<Uint8Array> {
  const { type, body } = req
  const reqId = body.reqId as number
  if (TRACE_ON && type === 'submit' && Array.isArray(body.tasks)) for (const t of body.tasks as Array<{ id: string }>) traceMark(t.id, 'leader.received')
  const out = await d.core.proposeAndWait(writeCommand(type, body, req.from, d.now()), waitMsOf(body))
  if (out.reply !== undefined && !out.reply.ok) return encode(`${type}Res`, { reqId, ok: false, error: out.reply.error })
  if (type === 'submit') {
    const r = out.reply as { taskIds: string[], duplicate: boolean }
    return encode('submitRes', { reqId, ok: true, taskIds: r.taskIds, duplicate: r.duplicate })
  }
  if (type === 'cancel') {
    const task = d.core.state.getTask(body.taskId)
    if (task === undefined) return req.fail('not_found', `task ${body.taskId} not found`)
    return encode('cancelRes', { reqId, ok: true, task })
  }
  return encode('setRoleRes', { reqId, ok: true })
}

/** the command a forwarded write proposes; a principal or author the request leaves out is the forwarding peer */
function writeCommand (type: string, body: Body, from: string, at: number): Command {
  if (type === 'submit') {
    return {
      type: 'submit', requestId: body.requestId, principal: body.principal ?? `peer:${from}`, at, tasks: body.tasks,
      ...(body.batch !== undefined ? { batch: body.batch } : {}),
      ...(body.workflow !== undefined ? { workflow: body.workflow } : {}),
      ...(body.chunk !== undefined ? { chunk: body.chunk } : {})
    }
  }
  if (type === 'cancel') return { type: 'cancel', at, taskId: body.taskId, principal: body.principal ?? `peer:${from}` }
  return { type: 'setRole', at, principal: body.principal, role: body.role, by: body.by ?? `peer:${from}` }
}

/** The forwarding side: send a request to the current leader and decode its answer. */
export function makeLeaderRequest (channel: Pick<FramedChannel, 'request'>, leaderId: () => string | null, selfId: string) {
  let reqCounter = 1
  return async (type: string, body: Record<string, unknown>, timeoutMs: number): Promise<any> => {
    const leader = leaderId()
    if (leader === null || leader === selfId) throw new NoLeaderError()
    const reqId = reqCounter++
    let frame: Uint8Array
    try {
      frame = encode(type, { reqId, ...body })
    } catch (err) {
      // over the client frame cap: no leader will ever take it, so no retry
      if (err instanceof EncodeError) throw new UnproposableCommandError('payload_too_large', `this ${type} is too big to send to the leader (${err.message.replace(/^encode failed: /, '')}); split it`)
      throw err
    }
    const bytes = await channel.request(leader, frame, { timeoutMs: Math.min(timeoutMs, 15_000) })
    const res = decode(bytes, CLIENT_MESSAGES)
    // the leader could not decode our request (a field over a cap): definite, not a transport problem
    if (res.type === 'error') throw new NodeError(res.body.error.type, res.body.error.message, res.body.error.field)
    if (res.type !== `${type}Res`) throw new NodeError('network_error', `unexpected answer '${res.type}' to '${type}'`)
    return res.body
  }
}
