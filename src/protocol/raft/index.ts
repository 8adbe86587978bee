// Public surface of the pure Raft core.
export * from './types.js'
export * from './errors.js'
export { RawNode, LOCAL_MESSAGE_TYPES } from './raw-node.js'
export { Raft, CAMPAIGN_TRANSFER, type RaftStatus, type ProgressStatus } from './raft.js'
export { MemoryStorage, type MemoryStorageInit } from './memory-storage.js'
export { bootstrapStorage, BOOTSTRAP_INDEX, BOOTSTRAP_TERM } from './bootstrap.js'
export { encodeConfChange, decodeConfChange, validateConfChange } from './conf-change.js'
