// <dataDir>/device-policy.json: an operator's device policy settings, over the defaults and under
// the node's own options. A file that does not parse or check is an error the operator must fix
// (the node refuses to start), not something to skip silently.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { devicePolicyProblem, type DevicePolicyConfig } from '../../sched/device-policy.js'

export function readDevicePolicyFile (dataDir: string): Partial<DevicePolicyConfig> {
  const p = join(dataDir, 'device-policy.json')
  if (!existsSync(p)) return {}
  let parsed: unknown
  try { parsed = JSON.parse(readFileSync(p, 'utf8')) } catch (err) { throw new Error(`${p}: ${(err as Error).message}`) }
  const problem = devicePolicyProblem(parsed)
  if (problem !== undefined) throw new Error(`${p}: ${problem}`)
  return parsed as Partial<DevicePolicyConfig>
}
