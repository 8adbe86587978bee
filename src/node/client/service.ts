// /retire-cluster/client: what a node answers when another node forwards a user's request to it
// (only the leader accepts writes), and the forwarding side used by NodeScheduler.
import { decode, encode } from '../../protocol/codec.js'
import { CLIENT_MESSAGES } from '../../protocol/messages.js'
import type { ClusterCore } from '../cluster/core.js'
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
  const reqId = body.reqId as number
  const fail = (type2: string, message: string, extra: Body = {}): Uint8Array =>
    encode(`${type}Res`, { reqId, ok: false, error: { type: type2, message }, ...extra })
  try {
    switch (type) {
      case 'settings': {
        if (!d.isLeader()) return fail('no_leader', 'not the leader', { notLeader: true, leaderHint: d.leaderId() })
        const out = await d.core.proposeAndWait({ type: 'settings', at: d.now(), by: body.by ?? `peer:${from}`, settings: body.settings },
          typeof body.waitMs === 'number' ? body.waitMs : DEFAULT_PROPOSE_WAIT_MS)
        if (out.reply !== undefined && !out.reply.ok) return encode('settingsRes', { reqId, ok: false, error: out.reply.error })
        return encode('settingsRes', { reqId, ok: true, settings: d.core.state.clusterSettings() })
      }
      case 'submit':
      case 'cancel':
      case 'setRole': {
        if (!d.isLeader()) return fail('no_leader', 'not the leader', { notLeader: true, leaderHint: d.leaderId() })
        if (TRACE_ON && type === 'submit' && Array.isArray(body.tasks)) for (const t of body.tasks as Array<{ id: string }>) traceMark(t.id, 'leader.received')
        const at = d.now()
        const cmd = type === 'submit'
          ? { type: 'submit' as const, requestId: body.requestId, principal: body.principal ?? `peer:${from}`, at, tasks: body.tasks, ...(body.batch !== undefined ? { batch: body.batch } : {}), ...(body.workflow !== undefined ? { workflow: body.workflow } : {}), ...(body.chunk !== undefined ? { chunk: body.chunk } : {}) }
          : type === 'cancel'
            ? { type: 'cancel' as const, at, taskId: body.taskId, principal: body.principal ?? `peer:${from}` }
            : { type: 'setRole' as const, at, principal: body.principal, role: body.role, by: body.by ?? `peer:${from}` }
        // the forwarding node's remaining deadline (older nodes send none)
        const out = await d.core.proposeAndWait(cmd, typeof body.waitMs === 'number' ? body.waitMs : DEFAULT_PROPOSE_WAIT_MS)
        if (out.reply !== undefined && !out.reply.ok) return encode(`${type}Res`, { reqId, ok: false, error: out.reply.error })
        if (type === 'submit') {
          const r = out.reply as { taskIds: string[], duplicate: boolean }
          return encode('submitRes', { reqId, ok: true, taskIds: r.taskIds, duplicate: r.duplicate })
        }
        if (type === 'cancel') {
          const task = d.core.state.getTask(body.taskId)
          if (task === undefined) return fail('not_found', `task ${body.taskId} not found`)
          return encode('cancelRes', { reqId, ok: true, task })
        }
        return encode('setRoleRes', { reqId, ok: true })
      }
      case 'liveTasks':
        // only the leader holds live fields (a deposed one may still hold stale ones)
        if (!d.isLeader()) return fail('no_leader', 'not the leader', { notLeader: true, leaderHint: d.leaderId() })
        return encode('liveTasksRes', { reqId, ok: true, tasks: liveFieldsOf(d.core.state, d.leader, body.taskIds) })
      default:
        return fail('unsupported_operation', `request type '${type}' is not served here`)
    }
  } catch (err) {
    if (err instanceof NoLeaderError) return fail('no_leader', err.message, { notLeader: true, leaderHint: d.leaderId() })
    if (err instanceof NodeError) return fail(err.type, err.message)
    d.log.error('client request failed', err)
    return fail('internal', (err as Error).message)
  }
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
