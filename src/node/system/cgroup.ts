// cgroup v1 limits for task processes, where the node may create cgroups (root on a Linux box;
// never on an unrooted phone). Each task process gets its own cgroup under the node's:
//   cpu:    cfs quota = cpuPercent of the whole device (the node's own cgroup caps all tasks together)
//   memory: limit_in_bytes = the task's memory limit; over it, the kernel's OOM killer ends it
// The process joins its cgroup itself before exec (see `joinArgv`), so nothing runs outside it.
// Every failure here is non-fatal: the executor falls back to nice + rlimit + RSS watchdog.

import { mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync, existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'

const V1_ROOT = '/sys/fs/cgroup'
const CFS_PERIOD_US = 100_000

interface NodeCgroups { cpu?: string, memory?: string }

let nodeGroups: NodeCgroups | undefined
let counter = 0

/** this process's own cgroup path for a v1 controller, from /proc/self/cgroup */
function ownPath (controller: string): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'latin1').split('\n')) {
      const [, controllers, path] = line.split(':')
      if (controllers !== undefined && controllers.split(',').includes(controller)) return path
    }
  } catch {}
  return undefined
}

/** cgroups of task processes still to remove (at exit, if not before) */
const live = new Set<string>()

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM' }
}

/** empty task cgroups (and the node cgroup) left by nodes that died: the kernel keeps them forever */
function sweepStale (parent: string): void {
  let names: string[]
  try { names = readdirSync(parent) } catch { return }
  for (const name of names) {
    const m = /^retire-cluster-(\d+)$/.exec(name)
    if (m === null || Number(m[1]) === process.pid || alive(Number(m[1]))) continue
    const dir = `${parent}/${name}`
    try {
      for (const t of readdirSync(dir)) if (/^t\d+$/.test(t)) try { rmdirSync(`${dir}/${t}`) } catch {}
      rmdirSync(dir)
    } catch {}
  }
}

function tryMakeNodeGroup (controller: 'cpu' | 'memory', cpuPercent: number): string | undefined {
  const own = ownPath(controller)
  if (own === undefined || !existsSync(`${V1_ROOT}/${controller}/cgroup.procs`)) return undefined
  const parent = `${V1_ROOT}/${controller}${own === '/' ? '' : own}`
  sweepStale(parent)
  const dir = `${parent}/retire-cluster-${process.pid}`
  try {
    mkdirSync(dir, { recursive: true })
    if (controller === 'cpu') writeCpuQuota(dir, cpuPercent)
    return dir
  } catch { return undefined }
}

function writeCpuQuota (dir: string, percent: number): void {
  const quota = Math.max(1000, Math.round(percent / 100 * availableParallelism() * CFS_PERIOD_US))
  writeFileSync(`${dir}/cpu.cfs_period_us`, String(CFS_PERIOD_US))
  writeFileSync(`${dir}/cpu.cfs_quota_us`, String(quota))
}

/**
 * Create (once) this node's cgroups; `cpuPercent` caps all its tasks together.
 * Returns which controllers are usable.
 */
export function initNodeCgroups (cpuPercent: number): { cpu: boolean, memory: boolean } {
  if (nodeGroups === undefined) {
    nodeGroups = process.platform === 'linux'
      ? { cpu: tryMakeNodeGroup('cpu', cpuPercent), memory: tryMakeNodeGroup('memory', cpuPercent) }
      : {}
    if (nodeGroups.cpu !== undefined || nodeGroups.memory !== undefined) process.once('exit', removeNodeCgroups)
  }
  return { cpu: nodeGroups.cpu !== undefined, memory: nodeGroups.memory !== undefined }
}

/** the cgroups of one task process */
export class TaskCgroup {
  private constructor (readonly dirs: string[], private readonly memDir: string | undefined) {}

  static create (limits: { cpuPercent: number, memoryBytes: number }): TaskCgroup | undefined {
    if (nodeGroups === undefined) return undefined
    const name = `t${++counter}`
    const dirs: string[] = []
    let memDir: string | undefined
    try {
      if (nodeGroups.cpu !== undefined) {
        const d = `${nodeGroups.cpu}/${name}`
        mkdirSync(d)
        dirs.push(d)
        writeCpuQuota(d, limits.cpuPercent)
      }
      if (nodeGroups.memory !== undefined && Number.isFinite(limits.memoryBytes)) {
        const d = `${nodeGroups.memory}/${name}`
        mkdirSync(d)
        dirs.push(d)
        writeFileSync(`${d}/memory.limit_in_bytes`, String(Math.floor(limits.memoryBytes)))
        // no swap beyond the limit where the kernel accounts it
        try { writeFileSync(`${d}/memory.memsw.limit_in_bytes`, String(Math.floor(limits.memoryBytes))) } catch {}
        memDir = d
      }
    } catch {
      new TaskCgroup(dirs, memDir).remove()
      return undefined
    }
    for (const d of dirs) live.add(d)
    return dirs.length > 0 ? new TaskCgroup(dirs, memDir) : undefined
  }

  /** prefix an argv so the process moves itself into these cgroups, then execs the program */
  joinArgv (argv: string[]): string[] {
    const join = this.dirs.map(d => `echo $$ > '${d}/cgroup.procs'`).join(' && ')
    return ['/bin/sh', '-c', `${join} && exec "$@"`, 'sh', ...argv]
  }

  private oomSeen: boolean | undefined

  /** did the kernel's OOM killer act in this cgroup? (remembered across remove()) */
  oomKilled (): boolean {
    if (this.oomSeen !== undefined) return this.oomSeen
    if (this.memDir === undefined) return false
    try {
      const m = /oom_kill (\d+)/.exec(readFileSync(`${this.memDir}/memory.oom_control`, 'latin1'))
      if (m !== null) return Number(m[1]) > 0
      return Number(readFileSync(`${this.memDir}/memory.failcnt`, 'latin1')) > 0
    } catch { return false }
  }

  /** remove the (now empty) cgroups; retried briefly, since the kernel frees them just after exit */
  remove (attempt = 0): void {
    if (attempt === 0) this.oomSeen = this.oomKilled()
    const left = this.dirs.filter(d => {
      try { rmdirSync(d) } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return true }
      live.delete(d)
      return false
    })
    if (left.length > 0 && attempt < 5) setTimeout(() => new TaskCgroup(left, undefined).remove(attempt + 1), 200).unref()
  }
}

/** remove the node's own cgroups at exit (best effort: a leftover task cgroup keeps it) */
function removeNodeCgroups (): void {
  if (nodeGroups === undefined) return
  for (const d of live) try { rmdirSync(d) } catch {}
  for (const d of [nodeGroups.cpu, nodeGroups.memory]) {
    if (d !== undefined) try { rmdirSync(d) } catch {}
  }
}
