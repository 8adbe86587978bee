// Errors of the gossip layer.

export class GossipError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'GossipError'
  }
}

/** Our own bid could not be published as given (fails validation or is over MAX_BID_BYTES). */
export class InvalidOwnBidError extends GossipError {
  constructor (problem: string) {
    super(`refusing to publish own bid: ${problem}`)
    this.name = 'InvalidOwnBidError'
  }
}

/** Bad BidGossip construction option. */
export class InvalidGossipOptionError extends GossipError {
  constructor (field: string, message: string) {
    super(`invalid bid gossip option ${field}: ${message}`)
    this.name = 'InvalidGossipOptionError'
  }
}
