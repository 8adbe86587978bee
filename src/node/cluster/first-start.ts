// A fresh node's first start (empty Raft storage): it listens a moment for an existing cluster,
// then either waits to be added to one (autopilot adds it as a learner) or forms a new one with
// the other fresh nodes — the decision is bootstrap.ts's, pure; this is the loop around it.
import { decideBootstrap, settleTimeMs } from './bootstrap.js'
import type { DeviceBid } from '../../sched/types.js'
import type { Logger } from '../log.js'

/** how long a fresh node that knows of other nodes listens for an existing cluster before forming one */
export const BOOTSTRAP_SETTLE_MS = 2500
/**
 * how long a fresh node that knows of no other node listens first, with mDNS on: an existing node
 * on the LAN answers our start-up query within tens of ms (a phone in Wi-Fi power save within a few
 * hundred); any answer switches to the full BOOTSTRAP_SETTLE_MS
 */
export const BOOTSTRAP_QUIET_MDNS_MS = 500
/**
 * the least a fresh node that knows of others listens, even once all of them have sent their bid
 * and enough are fresh: bids go out every second, and an mDNS answer can take a few hundred ms
 */
export const BOOTSTRAP_MIN_SETTLE_MS = 1000
/** how often the fresh node re-reads what it has seen while it listens */
const BOOTSTRAP_POLL_MS = 50

export interface FirstStartInit {
  selfId: string
  /** how many fresh nodes form a cluster together */
  expect: number
  mdns: boolean
  bids: () => DeviceBid[]
  /** whether any other node is known: bootstrap addresses given, a peer discovered or connected */
  announced: () => boolean
  /** how many known nodes (connected peers, bootstrap addresses) have not sent a bid yet */
  unheard?: () => number
  /** write the founders' initial configuration (RaftMember.form) */
  form: (voters: string[]) => void
  /** start Raft, once decided */
  startRaft: () => void
  now: () => number
  /** when listening began (the host's start, when its mDNS query went out) @default now() at the call */
  startedAt?: number
  log: Logger
  signal: AbortSignal
}

/** resolves once Raft started, or when `signal` aborts first (the node stopped) */
export async function firstStart (d: FirstStartInit): Promise<void> {
  const started = d.startedAt ?? d.now()
  let seen = ''
  while (!d.signal.aborted) {
    const view = {
      selfId: d.selfId,
      expect: d.expect,
      bids: d.bids(),
      elapsedMs: d.now() - started,
      settleMs: BOOTSTRAP_SETTLE_MS,
      announced: d.announced(),
      quietSettleMs: d.mdns ? BOOTSTRAP_QUIET_MDNS_MS : 0,
      ...(d.unheard !== undefined ? { unheard: d.unheard(), minSettleMs: BOOTSTRAP_MIN_SETTLE_MS } : {})
    }
    // what the decision waits on, each time it changes (a slow first leader is read from this)
    const now = `${view.bids.length} bids, ${view.unheard ?? '?'} known nodes unheard, listening ${settleTimeMs(view)} ms`
    if (now !== seen) { seen = now; d.log.debug(`bootstrap: ${now} (${Math.round(view.elapsedMs)} ms in)`) }
    const decision = decideBootstrap(view)
    if (decision !== undefined) {
      if (decision.kind === 'form') {
        d.log.info(`forming a new cluster with voters ${decision.voters.map(v => v.slice(-8)).join(', ')}`)
        d.form(decision.voters)
      } else {
        d.log.info('found an existing cluster: waiting to be added as a learner')
      }
      d.startRaft()
      return
    }
    await new Promise(resolve => setTimeout(resolve, BOOTSTRAP_POLL_MS))
  }
}

/**
 * Known nodes that have not sent a bid: connected peers without one, and bootstrap addresses
 * (by their /p2p/ id; one without an id counts until some peer is connected).
 */
export function unheardPeers (bids: readonly DeviceBid[], connected: readonly string[], bootstrap: readonly string[]): number {
  const heard = new Set(bids.map(b => b.nodeId))
  const known = new Set(connected)
  let anonymous = 0
  for (const addr of bootstrap) {
    const i = addr.lastIndexOf('/p2p/')
    if (i >= 0) known.add(addr.slice(i + 5))
    else anonymous++
  }
  let n = 0
  for (const id of known) if (!heard.has(id)) n++
  return n + (anonymous > 0 && connected.length === 0 ? 1 : 0)
}
