// Which fault kinds a soak draws from: the process faults always; network and disk faults when asked
// for and the machine allows them (otherwise skipped, with the reason printed).
import { PROCESS_FAULTS, type ExtraFault } from './nemesis.js'

export interface FaultKinds {
  kinds: string[]
  extra: Map<string, ExtraFault>
  skipped: string[]
  cleanup: () => void
}

export async function faultKinds (groups: string[]): Promise<FaultKinds> {
  const kinds: string[] = []
  const extra = new Map<string, ExtraFault>()
  const skipped: string[] = []
  if (groups.includes('process')) kinds.push(...PROCESS_FAULTS)
  if (groups.includes('net')) skipped.push('network faults: not implemented yet')
  if (groups.includes('disk')) skipped.push('disk faults: not implemented yet')
  return { kinds, extra, skipped, cleanup: () => {} }
}
