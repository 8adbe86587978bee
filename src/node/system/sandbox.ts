// What this device can enforce, found by trying. Root Linux boxes can cut the network
// (`unshare --net`), cap address space (`prlimit --as`) and lower priority; an unrooted phone under
// Termux usually cannot unshare, and says so in its bid so the scheduler keeps
// network-isolated tasks away from it.

import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { setPriority, getPriority } from 'node:os'

export interface SandboxFeatures {
  /** allowNetwork=false is enforced (a fresh network namespace with no interfaces up) */
  network: boolean
  /** memory limits are enforced by the kernel (rlimit), not only by the RSS watchdog */
  memory: boolean
  /** CPU share is enforced (lower scheduling priority for task processes) */
  cpu: boolean
  /** file_operation / command cwd confined to allowed paths (done in-process, always on) */
  filesystem: boolean
}

export interface SandboxTools extends SandboxFeatures {
  unshare: boolean
  prlimit: boolean
  python3: boolean
  /** the real interpreter behind `python3` (not a pyenv/asdf shim): faster to start, and its pid is the one we sample */
  python3Path?: string
}

let cached: SandboxTools | undefined

function works (file: string, args: string[]): boolean {
  try {
    const r = spawnSync(file, args, { stdio: 'ignore', timeout: 5000 })
    return r.status === 0
  } catch { return false }
}

function canLowerPriority (): boolean {
  try {
    // lowering our own priority by 0 proves the call exists; children get +10 after spawn
    setPriority(process.pid, getPriority(process.pid))
    return true
  } catch { return false }
}

function findPython3 (): string | undefined {
  try {
    const r = spawnSync('python3', ['-c', 'import ast, sys; print(sys.executable)'], { encoding: 'utf8', timeout: 10_000 })
    const path = r.stdout?.trim()
    return r.status === 0 && path !== undefined && path !== '' ? path : undefined
  } catch { return undefined }
}

function isLinux (): boolean { return process.platform === 'linux' || (process.platform as string) === 'android' }

function toolsFrom (unshare: boolean, prlimit: boolean, python3Path: string | undefined): SandboxTools {
  return {
    unshare,
    prlimit,
    python3: python3Path !== undefined,
    python3Path,
    network: unshare,
    memory: prlimit,
    cpu: canLowerPriority(),
    filesystem: true
  }
}

/**
 * Probe once, then answer from cache. Blocks while three child processes run one after another
 * (0.8–2.5 s measured on a loaded 2-core machine, most of it python3 starting): a node calls
 * probeSandbox() first, so this only answers from the cache there.
 */
export function detectSandboxSync (): SandboxTools {
  if (cached !== undefined) return cached
  const linux = isLinux()
  cached = toolsFrom(linux && works('unshare', ['--net', '--', 'true']), linux && works('prlimit', ['--as=1073741824', '--', 'true']), findPython3())
  return cached
}

let probing: Promise<SandboxTools> | undefined

/**
 * The same probe without blocking the event loop: the three child processes run at once, while
 * the caller does other start-up work (the CLI loads libp2p meanwhile). Fills the cache that
 * detectSandboxSync answers from.
 */
export async function probeSandbox (): Promise<SandboxTools> {
  if (cached !== undefined) return cached
  probing ??= (async () => {
    const linux = isLinux()
    const [unshare, prlimit, python3Path] = await Promise.all([
      linux ? worksAsync('unshare', ['--net', '--', 'true']) : false,
      linux ? worksAsync('prlimit', ['--as=1073741824', '--', 'true']) : false,
      findPython3Async()
    ])
    cached ??= toolsFrom(unshare, prlimit, python3Path)
    return cached
  })()
  return await probing
}

function run (file: string, args: string[], timeoutMs: number): Promise<{ ok: boolean, stdout: string }> {
  return new Promise(resolve => {
    try {
      execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout) => { resolve({ ok: err === null, stdout: stdout ?? '' }) })
    } catch { resolve({ ok: false, stdout: '' }) }
  })
}

async function worksAsync (file: string, args: string[]): Promise<boolean> {
  return (await run(file, args, 5000)).ok
}

async function findPython3Async (): Promise<string | undefined> {
  const r = await run('python3', ['-c', 'import ast, sys; print(sys.executable)'], 10_000)
  const path = r.stdout.trim()
  return r.ok && path !== '' ? path : undefined
}

export async function detectSandbox (): Promise<SandboxFeatures> {
  const t = await probeSandbox()
  return { network: t.network, memory: t.memory, cpu: t.cpu, filesystem: t.filesystem }
}

/** true when running under Termux on Android */
export function isTermux (): boolean {
  return process.env.TERMUX_VERSION !== undefined || (process.env.PREFIX ?? '').includes('com.termux') || existsSync('/data/data/com.termux')
}
