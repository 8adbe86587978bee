// Typed errors of the protocol layer: one subclass per condition, each with a message a user or an
// operator can act on. Raft-core errors live in raft/errors.ts.

export class ProtocolError extends Error {
  constructor (message: string) { super(message); this.name = 'ProtocolError' }
}

/** A value did not match its schema. `path` names the offending field, e.g. `entries[3].term`. */
export class SchemaError extends ProtocolError {
  readonly path: string
  constructor (path: string, message: string) { super(message); this.name = 'SchemaError'; this.path = path }
}

export type DecodeErrorReason =
  | 'too_large'      // frame bigger than MAX_FRAME_BYTES
  | 'empty'          // zero-length input
  | 'malformed'      // not valid msgpack (truncated, garbage, trailing bytes)
  | 'bad_envelope'   // valid msgpack but not [v, type, body]
  | 'bad_version'    // envelope version this build does not speak
  | 'unknown_type'   // message type not in the expected table
  | 'invalid_body'   // body failed its schema (see `path`)

/** Bytes from the outside could not be turned into a valid message. Nothing was changed. */
export class DecodeError extends ProtocolError {
  readonly reason: DecodeErrorReason
  /** for 'invalid_body': the failing field path inside the body */
  readonly path?: string
  constructor (reason: DecodeErrorReason, message: string, path?: string) {
    super(`decode failed (${reason}): ${message}`)
    this.name = 'DecodeError'
    this.reason = reason
    if (path !== undefined) this.path = path
  }
}

/** A message we were about to send is invalid or too large (a bug on our side, caught early). */
export class EncodeError extends ProtocolError {
  constructor (message: string) { super(`encode failed: ${message}`); this.name = 'EncodeError' }
}
