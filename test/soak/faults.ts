// Which fault kinds a soak draws from: the process faults always; network faults (nodes in network
// namespaces, test/netlab) and disk faults when asked for and the machine allows them, otherwise
// skipped with the reason printed.
import { NetLab, NetLabUnavailableError } from '../netlab/netlab.js'
import { PROCESS_FAULTS, type ExtraFault } from './nemesis.js'
import { healNet, NET_FAULTS, netFaults } from './net-faults.js'
import { DISK_FAULTS, diskFaults, diskUnavailableReason, probeOps } from './disk-faults.js'

export interface FaultKinds {
  kinds: string[]
  extra: Map<string, ExtraFault>
  skipped: string[]
  /** the nodes run in these namespaces (network faults) */
  lab?: NetLab
  /** undo every network or disk fault (the nemesis calls it after each fault and at the end) */
  heal: () => void
  /** the node (1-based) whose data dir is a small tmpfs (disk-full) */
  tmpfsNode?: number
  /** tear down the namespaces */
  cleanup: () => void
}

export async function faultKinds (groups: string[], nodes: number, seed = 0): Promise<FaultKinds> {
  const kinds: string[] = []
  const extra = new Map<string, ExtraFault>()
  const skipped: string[] = []
  const heals: Array<() => void> = []
  let lab: NetLab | undefined
  if (groups.includes('process')) kinds.push(...PROCESS_FAULTS)
  if (groups.includes('net')) {
    try {
      lab = NetLab.up({ hosts: nodes })
      const l = lab
      kinds.push(...NET_FAULTS)
      for (const [k, f] of netFaults(l)) extra.set(k, f)
      heals.push(() => { healNet(l, nodes) })
    } catch (err) {
      if (!(err instanceof NetLabUnavailableError)) throw err
      skipped.push(`network faults (one-way cut, flapping link, leader partition): ${err.message}`)
    }
  }
  let tmpfsNode: number | undefined
  if (groups.includes('disk')) {
    const why = diskUnavailableReason()
    if (why === undefined) {
      tmpfsNode = 1 + (seed % nodes)
      kinds.push(...DISK_FAULTS)
    } else {
      kinds.push('lose-recent-writes')
      skipped.push(`disk-full fault: ${why}`)
    }
    for (const [k, f] of diskFaults(tmpfsNode, probeOps())) extra.set(k, f)
  }
  return {
    kinds,
    ...(tmpfsNode !== undefined ? { tmpfsNode } : {}),
    extra,
    skipped,
    ...(lab !== undefined ? { lab } : {}),
    heal: () => { for (const h of heals) h() },
    cleanup: () => { lab?.down() }
  }
}
