import { hostname, release, uptime, type as osType } from 'node:os'
import { BaseTaskHandler } from '../registry.js'
import { sampleCapabilities, sampleLoad } from '../../system/sample.js'

/** the device's capabilities and current load */
export class SystemInfoHandler extends BaseTaskHandler {
  readonly taskType = 'system_info'
  override readonly isolation = 'inline' as const
  execute (): unknown {
    return {
      ...sampleCapabilities(),
      ...sampleLoad(),
      hostname: hostname(),
      os: `${osType()} ${release()}`,
      nodeVersion: process.version,
      uptimeSeconds: Math.round(uptime())
    }
  }
}
