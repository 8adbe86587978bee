// Gossip of device bids: see bids.ts.
export { BidGossip, IDLE_BID_INTERVAL_MS, type BidGossipInit, type BidGossipStats, type BidFields, type BidEntry } from './bids.js'
export { BidTable, isNewer } from './bid-table.js'
export { decodeBid, encodeBid } from './bid-wire.js'
export { isSignificantChange, refreshMs, USAGE_STEP } from './significance.js'
export * from './errors.js'
