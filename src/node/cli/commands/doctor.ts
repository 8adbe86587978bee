// `retire-cluster doctor [--data-dir DIR] [--api-port N] [--json]`: what this device can do and what
// a node started here would advertise, and why. Needs no running node.

import { resolve } from 'node:path'
import { Command } from 'commander'
import { formatDoctor, runDoctor } from '../../doctor.js'
import { defaultDataDir } from '../context.js'
import { MSG } from '../messages.js'
import { json, type CliIo } from '../io.js'
import { intOpt } from '../parse.js'

interface Flags { dataDir?: string, apiPort?: number, json?: boolean }

export function doctorCommand (io: CliIo): Command {
  return new Command('doctor')
    .description(MSG.doctorDesc)
    .option('-d, --data-dir <dir>', 'the data dir a node would use (its disk is checked)')
    .option('--api-port <port>', 'check that this API port is free', intOpt('--api-port', 0))
    .option('--json', 'machine-readable output')
    .action(async (flags: Flags) => {
      const report = await runDoctor({ dataDir: resolve(flags.dataDir ?? defaultDataDir()), apiPort: flags.apiPort })
      io.out(flags.json === true ? json(report) : formatDoctor(report))
    })
}
