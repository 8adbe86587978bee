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
export class ConflictError extends NodeError {
  constructor (message: string) { super('conflict', message) }
}
export class WaitTimeoutError extends NodeError {
  constructor (message: string) { super('timeout', message) }
}
export class NodeStoppedError extends NodeError {
  constructor () { super('stopped', 'the node is stopping') }
}
