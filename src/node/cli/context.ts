// How client commands find the node: `--data-dir DIR` (node.json + api-token, as the node wrote them)
// or `--api URL --token-file FILE`. Every client command takes these flags and --json.

import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { ApiClient, ApiClientError } from '../api/client.js'
import { CliError, EXIT, UsageError } from './errors.js'
import { MSG } from './messages.js'

export interface ClientFlags { dataDir?: string, api?: string, tokenFile?: string, json?: boolean }

export function defaultDataDir (): string {
  return process.env.RETIRE_CLUSTER_DATA_DIR ?? join(homedir(), '.retire-cluster')
}

export function addClientOptions (cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'data dir of the local node (reads node.json and api-token)')
    .option('--api <url>', 'API url of a node, e.g. http://127.0.0.1:7070 (with --token-file)')
    .option('--token-file <file>', 'file holding the API token')
    .option('--json', 'machine-readable output')
}

export async function clientFrom (flags: ClientFlags): Promise<ApiClient> {
  if (flags.api !== undefined) {
    if (flags.tokenFile === undefined) throw new UsageError(MSG.errApiNeedsToken)
    if (!/^https?:\/\//.test(flags.api)) throw new UsageError(`--api must be an http:// URL, got "${flags.api}"`)
    const token = await readText(flags.tokenFile)
    return new ApiClient({ url: flags.api, token })
  }
  const dataDir = resolve(flags.dataDir ?? defaultDataDir())
  try {
    const client = await ApiClient.fromDataDir(dataDir)
    if (flags.tokenFile !== undefined) return new ApiClient({ url: client.url, token: await readText(flags.tokenFile) })
    return client
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') throw new CliError(MSG.errNoNode(dataDir), EXIT.UNREACHABLE)
    throw new CliError((err as Error).message, EXIT.UNREACHABLE)
  }
}

async function readText (path: string): Promise<string> {
  let text: string
  try {
    text = (await readFile(path, 'utf8')).trim()
  } catch (err) {
    throw new UsageError(MSG.errReadFile(path, (err as Error).message))
  }
  if (text === '') throw new UsageError(MSG.errTokenEmpty(path))
  return text
}

/** Turns API client errors into CLI errors with the right exit code and a one-line message. */
export function toCliError (err: unknown): CliError {
  if (err instanceof CliError) return err
  if (err instanceof ApiClientError) {
    return new CliError(MSG.errApi(err.message, err.field), err.status === 0 ? EXIT.UNREACHABLE : EXIT.ERROR)
  }
  return new CliError((err as Error).message ?? String(err))
}
