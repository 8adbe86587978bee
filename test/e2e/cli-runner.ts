// e2e helper: runs the real `retire-cluster` binary as a child process. The compiled bin (what users
// run; `npm test` builds it first) when dist exists, else the same entry from source through tsx.

import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BUILT = existsSync(join(ROOT, 'dist/src/node/cli/main.js')) && process.env.RC_CLI_FROM_SOURCE === undefined

export const CLI_ARGS = BUILT
  ? [join(ROOT, 'bin/retire-cluster.js')]
  : ['--import', 'tsx', join(ROOT, 'src/node/cli/main.ts')]

export interface CliResult { code: number, stdout: string, stderr: string }

export async function runCli (args: string[], opts: { timeoutMs?: number, cwd?: string } = {}): Promise<CliResult> {
  return await new Promise(resolve => {
    execFile(process.execPath, [...CLI_ARGS, ...args], { cwd: opts.cwd ?? ROOT, timeout: opts.timeoutMs ?? 30_000, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

/** Starts a long-running command (`start`); the caller stops it with kill(). */
export function spawnCli (args: string[]): ChildProcess {
  return spawn(process.execPath, [...CLI_ARGS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
}
