// What a handler sees while it runs. The executor builds one per task; a process-isolated handler
// gets an equivalent one inside its child process.

import type { Permission } from '../../sched/types.js'

/** What every handler may use: identity, cancellation, progress and log. */
export interface ExecContext {
  taskId: string
  attempt: number
  /** aborted on cancel, timeout or memory kill; long handlers should watch it */
  signal: AbortSignal
  /** pct in 0..100; values outside are clamped */
  progress (pct: number): void
  log (msg: string): void
}

/** What the node's operator allows (from `--grant`, `--allowed-paths`, limits). */
export interface NodePolicy {
  grants: Permission[]
  /** file_operation and command cwd must resolve inside one of these (after realpath) */
  allowedPaths: string[]
  maxFileSizeBytes: number
}

/** The limits in force for one task: the stricter of the node's and the task's sandbox config. */
export interface EffectiveLimits {
  timeoutMs: number
  memoryBytes: number
  cpuPercent: number
  allowNetwork: boolean
  /** sandboxConfig.allowFilesystem (default true); false refuses every file access */
  allowFilesystem: boolean
  /** sandboxConfig.allowedPaths: a task may narrow the node's allowed paths, never widen them */
  taskPaths?: string[]
  maxFileSizeBytes: number
}

export interface RunProcessOptions {
  cwd?: string
  input?: string
  env?: Record<string, string>
  /** cap on captured stdout and on stderr, each; the rest is dropped and `truncated` set */
  maxOutputBytes?: number
  /** apply the address-space rlimit (off for runtimes that reserve huge virtual memory) */
  limitAddressSpace?: boolean
  /** floor for that rlimit: an interpreter needs some address space just to start */
  minAddressSpaceBytes?: number
  /** refuse to run when the network cannot be cut but the task must not use it (default true) */
  requireNetworkIsolation?: boolean
}

export interface ProcessResult {
  exitCode: number | null
  signal: string | null
  stdout: string
  stderr: string
  truncated: boolean
}

export interface HandlerContext extends ExecContext {
  policy: NodePolicy
  limits: EffectiveLimits
  /**
   * Run a program under this task's sandbox (rlimits, lower priority, no network when required),
   * tracked by the executor: sampled for CPU/RSS, killed on cancel/timeout/memory.
   */
  runProcess (file: string, args: string[], opts?: RunProcessOptions): Promise<ProcessResult>
}
