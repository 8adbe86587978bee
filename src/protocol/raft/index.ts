// Public surface of the pure Raft core (modelled on etcd-io/raft; see types.ts for the contract).
//
//   const storage = new MemoryStorage({ conf: { voters: ['a', 'b', 'c'], learners: [] } }) // or
//   //   bootstrapStorage(sqliteStorage, conf) on a founding member; nothing on a node added later
//   const node = new RawNode({ id: 'a', electionTick: 10, heartbeatTick: 1, storage, rng,
//     preVote: true, checkQuorum: true, maxSizePerMsg: 1 << 20, maxInflightMsgs: 256,
//     applied: storage.snapshot().meta.index })
//   every tick:        node.tick()
//   on a message:      node.step(msg)
//   leader only:       node.propose(bytes) / proposeBatch([...]) / proposeConfChange(cc)
//                      / transferLeadership(id)   (ProposalDroppedError otherwise)
//   reads:             node.readIndex(ctx) → later a ReadState { index, context } in a Ready;
//                      serve the read once applied >= index
//   then loop:         while (node.hasReady()) { const rd = node.ready()
//                        storage.save({ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot })
//                        send(rd.messages)           // after a 'snap': node.reportSnapshot(to, delivered)
//                        restore rd.snapshot; apply rd.committedEntries ('conf' → node.applyConfChange(e))
//                        node.advance(rd) }
//   on a dead peer:    node.reportUnreachable(id)
//   compaction:        storage.createSnapshot(applied, conf, smData); storage.compact(applied - lag)
export * from './types.js'
export * from './errors.js'
export { RawNode, LOCAL_MESSAGE_TYPES } from './raw-node.js'
export { Raft, CAMPAIGN_TRANSFER, type RaftStatus, type ProgressStatus } from './raft.js'
export { MemoryStorage, type MemoryStorageInit } from './memory-storage.js'
export { bootstrapStorage, BOOTSTRAP_INDEX, BOOTSTRAP_TERM } from './bootstrap.js'
export { encodeConfChange, decodeConfChange, validateConfChange } from './conf-change.js'
