// Which fault kinds a soak draws from: the process faults always; network faults (nodes in network
// namespaces, test/netlab) and disk faults when asked for and the machine allows them, otherwise
// skipped with the reason printed.
import { NetLab, NetLabUnavailableError } from '../netlab/netlab.js'
import { PROCESS_FAULTS, type ExtraFault } from './nemesis.js'
import { healNet, NET_FAULTS, netFaults } from './net-faults.js'

export interface FaultKinds {
  kinds: string[]
  extra: Map<string, ExtraFault>
  skipped: string[]
  /** the nodes run in these namespaces (network faults) */
  lab?: NetLab
  /** undo every network or disk fault (the nemesis calls it after each fault and at the end) */
  heal: () => void
  /** tear down the namespaces */
  cleanup: () => void
}

export async function faultKinds (groups: string[], nodes: number): Promise<FaultKinds> {
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
  return {
    kinds,
    extra,
    skipped,
    ...(lab !== undefined ? { lab } : {}),
    heal: () => { for (const h of heals) h() },
    cleanup: () => { lab?.down() }
  }
}
