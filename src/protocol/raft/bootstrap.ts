// Bootstrapping a new cluster's storage. The initial configuration is written as a snapshot at
// index 1, term 1 (state machine empty) on every founding member — identical everywhere. A node
// added later starts with an empty storage; the leader cannot send it entry 1 (it is "compacted"
// into that snapshot), so the new node first installs the snapshot and learns the configuration
// every later conf-change entry applies to. (Replaying conf changes from an empty configuration
// would make a new node believe it is alone — a split brain the simulator found.)
import type { ConfState, RaftStorage } from './types.js'
import { RaftInputError } from './errors.js'

export const BOOTSTRAP_INDEX = 1
export const BOOTSTRAP_TERM = 1

export function bootstrapStorage (storage: RaftStorage, conf: ConfState): void {
  if (conf.voters.length === 0) throw new RaftInputError('conf.voters', 'a new cluster needs at least one voter')
  if (storage.lastIndex() !== 0 || storage.initialState().hardState.term !== 0) {
    throw new RaftInputError('storage', 'already initialised: bootstrap only an empty storage')
  }
  // sorted so every founding member writes byte-identical snapshots
  const c: ConfState = { voters: [...conf.voters].sort(), learners: [...conf.learners].sort() }
  storage.save({
    snapshot: { meta: { index: BOOTSTRAP_INDEX, term: BOOTSTRAP_TERM, conf: c }, data: new Uint8Array(0) },
    hardState: { term: BOOTSTRAP_TERM, vote: null, commit: BOOTSTRAP_INDEX }
  })
}
