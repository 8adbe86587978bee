// Errors of the node layer. `type` is what the HTTP API maps to a status code and what a CLI user
// reads; it matches TaskErrorType where one fits.
export class NodeError extends Error {
  readonly type: string
  readonly field?: string
  constructor (type: string, message: string, field?: string) {
    super(message)
    this.name = 'NodeError'
    this.type = type
    if (field !== undefined) this.field = field
  }
}
export class NoLeaderError extends NodeError {
  constructor (why = 'no leader elected yet; retry in a moment') { super('no_leader', why) }
}
export class NotFoundError extends NodeError {
  constructor (what: string) { super('not_found', `${what} not found`) }
}
/**
 * The record existed and was evicted after its retention (HTTP 410). Not "not found": the caller
 * asked for something real, it is just no longer kept; the durable metrics still count it.
 */
export class EvictedError extends NodeError {
  constructor (what: string) {
    super('gone', `${what} finished and was evicted after the cluster's result retention (see retentionMs / result_ttl_seconds); its result is no longer kept`)
  }
}
export class ConflictError extends NodeError {
  constructor (message: string) { super('conflict', message) }
}
export class WaitTimeoutError extends NodeError {
  constructor (message: string) { super('timeout', message) }
}
export class NodeStoppedError extends NodeError {
  constructor () { super('stopped', 'the node is stopping') }
}
/**
 * A command the cluster could never apply: it fails the Raft entry decoder's rules (a field over a
 * cap in src/protocol/limits.ts, a shape the schema refuses) or is bigger than one entry. Refused
 * before it is proposed, so it never reaches the log and never shares an entry with other commands.
 * `type` is payload_too_large for size, invalid_payload otherwise.
 */
export class UnproposableCommandError extends NodeError {
  constructor (type: 'invalid_payload' | 'payload_too_large', message: string, field?: string) { super(type, message, field) }
}
/** This node stopped applying the log at a committed entry it cannot apply (a bug; see ClusterCore.halted). */
export class NodeHaltedError extends NodeError {
  constructor (index: number) { super('unavailable', `this node stopped applying the log at entry ${index} (see its error log); ask another node`) }
}
