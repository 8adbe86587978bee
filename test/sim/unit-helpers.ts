// Helpers for the Raft unit tests: a single node fed messages by hand, its output collected after
// a correct persist → send → apply → advance cycle.
import { RawNode } from '../../src/protocol/raft/raw-node.js'
import { MemoryStorage } from '../../src/protocol/raft/memory-storage.js'
import type { Entry, Message, NodeId, RaftConfig, Ready } from '../../src/protocol/raft/types.js'
import { mulberry32 } from './rng.js'

export interface Single { raw: RawNode, storage: MemoryStorage, applied: Entry[] }

export function single (id: NodeId, voters: NodeId[], cfg: Partial<RaftConfig> = {}, storage?: MemoryStorage): Single {
  const st = storage ?? new MemoryStorage({ conf: { voters, learners: [] }, bootstrapIndex: 0 })
  const raw = new RawNode({
    id, electionTick: 10, heartbeatTick: 1, storage: st, rng: mulberry32(7), preVote: false, checkQuorum: false,
    maxSizePerMsg: 1 << 20, maxInflightMsgs: 256, ...cfg
  })
  return { raw, storage: st, applied: [] }
}

/** run Ready cycles until quiet; returns every message sent and the last Readies */
export function flush (n: Single): { msgs: Message[], readies: Ready[] } {
  const msgs: Message[] = []
  const readies: Ready[] = []
  for (let i = 0; i < 100 && n.raw.hasReady(); i++) {
    const rd = n.raw.ready()
    readies.push(rd)
    n.storage.save({ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot })
    msgs.push(...rd.messages)
    for (const e of rd.committedEntries) {
      if (e.type === 'conf') n.raw.applyConfChange(e)
      n.applied.push(e)
    }
    n.raw.advance(rd)
  }
  return { msgs, readies }
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
export const text = (b: Uint8Array): string => new TextDecoder().decode(b)
export const ent = (index: number, term: number, s = ''): Entry => ({ index, term, type: 'normal', data: bytes(s) })

/** a storage preloaded with a log and hard state (for building divergent logs) */
export function storageWith (voters: NodeId[], entries: Entry[], term: number, vote: NodeId | null = null, commit = 0): MemoryStorage {
  const st = new MemoryStorage({ conf: { voters, learners: [] }, bootstrapIndex: 0 })
  st.save({ entries, hardState: { term, vote, commit } })
  return st
}

export function msg (m: Partial<Message> & Pick<Message, 'type' | 'from' | 'to'>): Message {
  return { term: 0, ...m }
}
