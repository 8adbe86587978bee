// A bid on the wire: the protocol codec's 'bid' message (msgpack envelope, schema-checked, capped at
// MAX_BID_BYTES), then the scheduler's own range checks, then the fields neither checks yet.
import { decode, encode } from '../../protocol/codec.js'
import { MAX_BID_BYTES, MAX_ADDR_LENGTH, MAX_ID_LENGTH } from '../../protocol/limits.js'
import { BID_MESSAGES } from '../../protocol/messages.js'
import { bidProblem } from '../../sched/device.js'
import type { DeviceBid } from '../../sched/types.js'

export function encodeBid (bid: DeviceBid): Uint8Array {
  return encode('bid', bid, MAX_BID_BYTES)
}

/** The bid in `bytes`, or a string saying what is wrong with it. Never throws. */
export function decodeBid (bytes: Uint8Array): DeviceBid | string {
  let bid: DeviceBid
  try {
    bid = decode(bytes, BID_MESSAGES, MAX_BID_BYTES).body as DeviceBid
  } catch (err) {
    return (err as Error).message
  }
  return bidProblem(bid) ?? extraProblem(bid) ?? bid
}

/** Checks the optional fields added after the protocol schema (cluster, apiUrl). */
function extraProblem (b: DeviceBid): string | undefined {
  if (b.apiUrl !== undefined && (typeof b.apiUrl !== 'string' || b.apiUrl.length > MAX_ADDR_LENGTH)) return 'bad field apiUrl'
  const c = b.cluster
  if (c === undefined) return undefined
  if (typeof c !== 'object' || c === null) return 'bad field cluster'
  if (typeof c.member !== 'boolean') return 'bad field cluster.member'
  if (c.leaderId !== null && (typeof c.leaderId !== 'string' || c.leaderId.length > MAX_ID_LENGTH)) return 'bad field cluster.leaderId'
  if (!Number.isSafeInteger(c.term) || c.term < 0) return 'bad field cluster.term'
  return undefined
}
