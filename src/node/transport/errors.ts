// Errors of the framed stream transport: one class per condition.

export class TransportError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'TransportError'
  }
}

/** A payload over the channel's frame cap: refused before anything is written. */
export class FrameTooLargeError extends TransportError {
  constructor (readonly bytes: number, readonly maxBytes: number) {
    super(`frame of ${bytes} bytes is over the ${maxBytes}-byte cap`)
    this.name = 'FrameTooLargeError'
  }
}

/** No response within the request's timeoutMs. */
export class RequestTimeoutError extends TransportError {
  constructor (peerId: string, protocol: string, timeoutMs: number) {
    super(`request to ${peerId} on ${protocol} timed out after ${timeoutMs} ms`)
    this.name = 'RequestTimeoutError'
  }
}

/** The stream carrying the request closed or was reset before the response came back. */
export class ChannelClosedError extends TransportError {
  /** @param unsent true when the message was never written, so retrying it cannot duplicate it */
  constructor (peerId: string, protocol: string, reason: string, readonly unsent = false) {
    super(`stream to ${peerId} on ${protocol} closed: ${reason}`)
    this.name = 'ChannelClosedError'
  }
}

/** The remote handler threw; its message is carried back. */
export class RemoteHandlerError extends TransportError {
  constructor (peerId: string, protocol: string, remoteMessage: string) {
    super(`handler on ${peerId} for ${protocol} failed: ${remoteMessage}`)
    this.name = 'RemoteHandlerError'
  }
}

/** A received frame breaks the channel's framing rules (unknown kind, short header, ...). */
export class MalformedFrameError extends TransportError {
  constructor (message: string) {
    super(`malformed frame: ${message}`)
    this.name = 'MalformedFrameError'
  }
}

/** Invalid argument to the channel API. */
export class InvalidChannelOptionError extends TransportError {
  constructor (field: string, message: string) {
    super(`invalid channel option ${field}: ${message}`)
    this.name = 'InvalidChannelOptionError'
  }
}

/** A direct link's ticket could not be asked for: libp2p has no connection to the peer, nor could it make one. */
export class PeerUnreachableError extends TransportError {
  constructor (readonly peerId: string, reason: string) {
    super(`peer ${peerId} unreachable: ${reason}`)
    this.name = 'PeerUnreachableError'
  }
}
