// Yamux window updates only when half the receive window is used, as go-yamux and rust-yamux send
// them (libp2p/rust-yamux#109), instead of after every chunk a stream's reader takes.
//
// @chainsafe/libp2p-yamux 7 calls sendWindowUpdate() after each chunk it hands the reader, and sends
// a WINDOW_UPDATE frame whenever any of the 256 KiB window was used: every message we receive costs
// the receiver one more frame back (noise-encrypted, its own socket write) and the sender one more
// wake-up and read. Measured (issue 12, `strace` of an idle 3-node cluster): half of each node's
// socket writes were these 30-byte frames. The sender never runs short of credit this way: it is
// told about the first half of the window while it still has the second half to send in.
//
// A stream's first frame still goes at once (its SYN or ACK flag rides on a window update), and so
// does every later update once half the window is used. Applied once, when this module loads (the
// host imports it); if a yamux release changes what this relies on, it leaves yamux as it is and
// says so (test/integration/transport-framed.test.ts counts the frames).
import { YamuxStream, StreamState } from '@chainsafe/libp2p-yamux/stream'

interface WindowFields {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

const proto = YamuxStream.prototype as unknown as WindowFields & { __rcHalfWindow?: boolean }

/** whether the patch is in place (false when the yamux release does not have what it relies on) */
export const YAMUX_HALF_WINDOW_UPDATES = install()

function install (): boolean {
  if (proto.__rcHalfWindow === true) return true
  const original = proto.sendWindowUpdate
  if (typeof original !== 'function' || StreamState?.Init === undefined || StreamState?.SYNReceived === undefined) return false
  proto.sendWindowUpdate = function (this: WindowFields): void {
    const flagsDue = this.state === StreamState.Init || this.state === StreamState.SYNReceived
    if (!flagsDue && typeof this.recvWindowCapacity === 'number' && this.recvWindowCapacity > this.recvWindow / 2) return
    original.call(this)
  }
  proto.__rcHalfWindow = true
  return true
}
