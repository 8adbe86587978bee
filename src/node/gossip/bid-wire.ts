// A bid on the wire: the protocol codec's 'bid' message (msgpack envelope, schema-checked, capped at
// MAX_BID_BYTES), then the scheduler's own range checks (isValidBid's bidProblem).
import { decode, encode } from '../../protocol/codec.js'
import { MAX_BID_BYTES } from '../../protocol/limits.js'
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
  return bidProblem(bid) ?? bid
}
