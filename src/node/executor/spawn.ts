// Starting a task's process under the sandbox this device can enforce:
//   unshare --net -- prlimit --as=BYTES -- <program>     (each wrapper only where it works)
// Both wrappers exec in place, so the pid we get is the program's own pid: what we sample and kill.
// Every task process leads its own process group, so a kill also takes any grandchildren (shell:
// true pipelines, forks).

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { setPriority } from 'node:os'
import { detectSandboxSync } from '../system/sandbox.js'
import { TaskCgroup } from '../system/cgroup.js'
import { UnsupportedOperationError } from '../handlers/errors.js'
import type { ProcessResult } from '../handlers/context.js'

/** nice value for task processes: the node's own gossip and Raft keep priority over task work */
export const TASK_NICE = 10

export interface SandboxSpawnOptions {
  sandboxEnabled: boolean
  allowNetwork: boolean
  /** set to apply an address-space rlimit */
  addressSpaceBytes?: number
  /** refuse rather than run with the network reachable when it should not be */
  requireNetworkIsolation: boolean
  cwd?: string
  env?: NodeJS.ProcessEnv
  stdio: StdioOptions
  serialization?: 'json' | 'advanced'
  /** put the process in its own cpu/memory cgroup where the node can (root Linux) */
  cgroup?: { cpuPercent: number, memoryBytes: number }
}

export interface SandboxedChild { child: ChildProcess, cgroup: TaskCgroup | undefined }

/** the argv actually executed, wrappers included */
export function sandboxArgv (file: string, args: string[], o: SandboxSpawnOptions): string[] {
  let argv = [file, ...args]
  if (!o.sandboxEnabled) return argv
  const tools = detectSandboxSync()
  if (o.addressSpaceBytes !== undefined && Number.isFinite(o.addressSpaceBytes) && tools.prlimit) {
    argv = ['prlimit', `--as=${Math.floor(o.addressSpaceBytes)}`, '--', ...argv]
  }
  if (!o.allowNetwork) {
    if (tools.unshare) argv = ['unshare', '--net', '--', ...argv]
    else if (o.requireNetworkIsolation) {
      throw new UnsupportedOperationError('this node cannot cut the network for a task (no working `unshare --net`), and the task may not use it')
    }
  }
  return argv
}

export function spawnSandboxed (file: string, args: string[], o: SandboxSpawnOptions): SandboxedChild {
  let argv = sandboxArgv(file, args, o)
  const cgroup = o.sandboxEnabled && o.cgroup !== undefined ? TaskCgroup.create(o.cgroup) : undefined
  if (cgroup !== undefined) argv = cgroup.joinArgv(argv)
  const child = spawn(argv[0], argv.slice(1), {
    cwd: o.cwd,
    env: o.env,
    stdio: o.stdio,
    detached: true,
    serialization: o.serialization,
    windowsHide: true
  })
  if (o.sandboxEnabled && child.pid !== undefined) {
    try { setPriority(child.pid, TASK_NICE) } catch { /* process already gone, or not permitted */ }
  }
  if (cgroup !== undefined) child.once('exit', () => cgroup.remove())
  return { child, cgroup }
}

/**
 * SIGKILL the process group (and the process itself, in case it left the group). The group can
 * outlive its leader (`cmd &` in a shell that exited), so it is signalled after the exit too.
 */
export function killTree (child: ChildProcess): void {
  const pid = child.pid
  if (pid === undefined) return
  const exited = child.exitCode !== null || child.signalCode !== null
  // a reaped leader's pid is not reused while its group has members: a live process with that pid
  // is someone else's, and our group is empty
  if (exited && pidInUse(pid)) return
  try { process.kill(-pid, 'SIGKILL') } catch { /* ESRCH: group empty; no process groups (Windows) */ }
  if (!exited) try { child.kill('SIGKILL') } catch {}
}

function pidInUse (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** Collect a child's output up to `maxBytes` per stream; resolves when it has exited and closed. */
export function collect (child: ChildProcess, maxBytes: number, input?: string): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = []
    const err: Buffer[] = []
    let outLen = 0
    let errLen = 0
    let truncated = false
    child.stdout?.on('data', (b: Buffer) => {
      if (outLen >= maxBytes) { truncated = true; return }
      if (outLen + b.length > maxBytes) { b = b.subarray(0, maxBytes - outLen); truncated = true }
      out.push(b); outLen += b.length
    })
    child.stderr?.on('data', (b: Buffer) => {
      if (errLen >= maxBytes) { truncated = true; return }
      if (errLen + b.length > maxBytes) { b = b.subarray(0, maxBytes - errLen); truncated = true }
      err.push(b); errLen += b.length
    })
    child.once('error', reject)
    child.once('close', (code, signal) => {
      resolve({
        exitCode: code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        truncated
      })
    })
    if (child.stdin !== null) {
      child.stdin.on('error', () => {}) // the program may exit without reading its input
      child.stdin.end(input ?? '')
    }
  })
}

/** task processes do not inherit the node's environment (tokens, keys): only what programs need */
export function minimalEnv (): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' }
  for (const k of ['HOME', 'TMPDIR', 'PREFIX', 'LD_LIBRARY_PATH', 'ANDROID_ROOT', 'ANDROID_DATA', 'PYENV_ROOT']) {
    const v = process.env[k]
    if (v !== undefined) env[k] = v
  }
  return env
}
