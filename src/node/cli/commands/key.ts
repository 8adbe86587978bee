// `retire-cluster key generate [--out FILE]`: a cluster key in the libp2p swarm-key format.

import { writeFile } from 'node:fs/promises'
import { Command } from 'commander'
import { generateClusterKey } from '../../host/cluster-key.js'
import { UsageError } from '../errors.js'
import { MSG } from '../messages.js'
import { json, type CliIo } from '../io.js'

interface Flags { out?: string, force?: boolean, json?: boolean }

export function keyCommand (io: CliIo): Command {
  const key = new Command('key').description(MSG.keyDesc)
  key.command('generate')
    .description(MSG.keyGenerateDesc)
    .option('-o, --out <file>', 'write the key here (mode 0600) instead of printing it')
    .option('--force', 'overwrite an existing file')
    .option('--json', 'machine-readable output')
    .action(async (flags: Flags) => {
      const bytes = generateClusterKey()
      if (flags.out === undefined) {
        const text = new TextDecoder().decode(bytes)
        io.out(flags.json === true ? json({ key: text }) : text.trimEnd())
        return
      }
      try {
        // 'wx' refuses to clobber an existing key: losing it would split the cluster.
        await writeFile(flags.out, bytes, { mode: 0o600, flag: flags.force === true ? 'w' : 'wx' })
      } catch (err) {
        if ((err as { code?: string }).code === 'EEXIST') throw new UsageError(MSG.errExists(flags.out))
        throw new UsageError(MSG.errReadFile(flags.out, (err as Error).message))
      }
      io.out(flags.json === true ? json({ path: flags.out }) : MSG.keyWritten(flags.out))
    })
  return key
}
