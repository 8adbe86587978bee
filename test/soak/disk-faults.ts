// Disk faults for the soak.
//
//   disk-full           one node (chosen by the seed) keeps its data dir on a small tmpfs of its own; the
//                       fault fills it to the last byte for a while, probes that node with a submission
//                       (it must answer, with a clear error if it refuses: no hang, no crash), frees the
//                       space, then kills -9 and restarts the node: it must start on its log (not
//                       corrupt) and converge with the others.
//   lose-recent-writes  a node is frozen (SIGSTOP: no write or fsync of it is in progress), its data dir
//                       copied, then it runs on for 0.3-4 s (acknowledging entries to the leader), is
//                       killed -9 and restarted on the copy: it has lost everything it wrote since,
//                       synced or not. That is more than a power cut takes (only unsynced writes), so
//                       it is injected on one node at a time; what the cluster acknowledged must
//                       still be there, held by the majority, and the node must catch up.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync, writeSync, openSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { sleep } from '../../scripts/lib/proc-cluster.js'
import type { SoakNode } from './cluster.js'
import type { ExtraFault, NemesisContext } from './nemesis.js'

export const DISK_FAULTS = ['disk-full', 'lose-recent-writes'] as const

/** tmpfs size for the disk-full node: room for a few minutes of log, small enough to fill at once */
const TMPFS_MB = 64
/** op numbers of the probes the disk fault submits (the workload's are far below) */
const PROBE_OP_BASE = 900_000_000_000

export function diskUnavailableReason (): string | undefined {
  if (process.platform !== 'linux') return `tmpfs mounts need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root'
  return undefined
}

/** mount a TMPFS_MB tmpfs on dir (created); throws when the machine refuses */
export function mountTmpfs (dir: string): void {
  mkdirSync(dir, { recursive: true })
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MB}m,mode=0755`, 'tmpfs', dir], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 })
  // The device policy cordons a node with under max(1 GiB, 10 %) free: on a 64 MB tmpfs that is the
  // whole run, so the node took no work and the rest drained the backlog alone (seed 21 went past the
  // 60 s bound after the heal). This node is meant to work until the fault fills its disk.
  writeFileSync(join(dir, 'device-policy.json'), JSON.stringify({ diskLowBytes: 8 * 1024 * 1024, diskLowPercent: 5 }))
}

export function unmount (dir: string): void {
  try { execFileSync('umount', ['-l', dir], { stdio: 'ignore', timeout: 10_000 }) } catch { /* not mounted */ }
}

/** fill the file system of dir up to the last block (bounded: a chunk a MB, at most TMPFS_MB + 16 chunks) */
function fill (path: string): number {
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(1 << 20)
  let written = 0
  try {
    for (let i = 0; i < TMPFS_MB + 16; i++) {
      try { written += writeSync(fd, chunk) } catch { break }
    }
    // the last partial MB: smaller writes until ENOSPC
    for (let i = 0; i < 256; i++) {
      try { written += writeSync(fd, chunk, 0, 4096) } catch { break }
    }
  } finally { closeSync(fd) }
  return written
}

export function diskFaults (fullNode: number | undefined, nextProbe: () => number): Map<string, ExtraFault> {
  const m = new Map<string, ExtraFault>()
  if (fullNode !== undefined) {
    m.set('disk-full', async (f, ctx) => {
      const x = ctx.cluster.node(fullNode)
      if (!x.up) { ctx.note(f.kind, 'info', x, 'node not up: skipped'); return }
      const filler = join(x.dataDir, 'soak-filler')
      const bytes = fill(filler)
      const free = statfsSync(x.dataDir)
      ctx.note(f.kind, 'start', x, `filled ${Math.round(bytes / 1048576)} MB; ${free.bavail * free.bsize} bytes left`)
      try {
        await sleep(500)
        if (x.alive) await probe(x, ctx, nextProbe())
        await holdFor(1000 + f.downMs, ctx)
        if (x.alive) await probe(x, ctx, nextProbe())
      } finally { rmSync(filler, { force: true }) }
      ctx.note(f.kind, 'info', x, x.alive ? 'space returned' : `space returned; the node had CRASHED while its disk was full: ${x.lastLogLine('SQLITE_FULL|ENOSPC|Error')}`)
      await sleep(1500)
      // the log must still open: crash it now and start it again on its data dir
      await x.kill9()
      await ctx.cluster.restart(x)
      ctx.note(f.kind, 'end', x, 'restarted on its data dir after the disk was full')
    })
  }
  m.set('lose-recent-writes', async (f, ctx) => {
    const c = ctx.cluster
    const up = c.up()
    const x = up[Math.floor(f.u * up.length)]
    if (x === undefined) return
    const copy = `${x.dataDir}.copy`
    rmSync(copy, { recursive: true, force: true })
    x.pause()
    try { cpSync(x.dataDir, copy, { recursive: true }) } finally { x.resume() }
    ctx.note(f.kind, 'start', x, `data dir copied while frozen; runs on for ${f.downMs} ms, then loses what it wrote since`)
    await sleep(f.downMs)
    await x.kill9()
    // empty the dir rather than remove it: it may be a mount point (the disk-full node's tmpfs)
    for (const e of readdirSync(x.dataDir)) rmSync(join(x.dataDir, e), { recursive: true, force: true })
    cpSync(copy, x.dataDir, { recursive: true })
    rmSync(copy, { recursive: true, force: true })
    await c.restart(x)
    ctx.note(f.kind, 'end', x, 'restarted on the copy')
  })
  return m
}

async function holdFor (ms: number, ctx: NemesisContext): Promise<void> {
  const until = Date.now() + ms
  while (ctx.active() && Date.now() < until) await sleep(Math.min(100, until - Date.now()))
}

/**
 * One submission straight to the full node, recorded in the history like the workload's (so an
 * acknowledged probe must complete like any task). It must answer: 201 (a follower forwards to the
 * leader) or an error with a type and a message; a timeout or a dropped connection is noted as
 * "NO CLEAR ANSWER", which the checker reports.
 */
async function probe (x: SoakNode, ctx: NemesisContext, op: number): Promise<void> {
  const tag = `soak-probe-${op}`
  const spec = { taskType: 'echo' as const, payload: { tag, probe: true }, priority: 2, idempotencyKey: tag }
  ctx.h.add({ t: Date.now(), type: 'invoke', op, try: 1, node: x.name, spec })
  try {
    const r = await x.api<any>('POST', '/v1/tasks', { task_type: 'echo', payload: spec.payload, priority: 2, idempotency_key: tag }, 8000)
    if (r.status === 201 && typeof r.body?.id === 'string') {
      ctx.h.add({ t: Date.now(), type: 'ok', op, try: 1, node: x.name, id: r.body.id })
      ctx.note('disk-full', 'info', x, `probe accepted: ${r.body.id as string}`)
      return
    }
    const e = r.body?.error
    const clear = typeof e?.type === 'string' && typeof e?.message === 'string' && e.message !== ''
    ctx.h.add({ t: Date.now(), type: 'fail', op, try: 1, node: x.name, error: `HTTP ${r.status} ${JSON.stringify(e ?? r.body)}`, definite: false })
    ctx.note('disk-full', 'info', x, `probe refused: HTTP ${r.status} ${clear ? `${String(e.type)}: ${String(e.message)}` : `NO CLEAR ANSWER ${JSON.stringify(r.body)}`}`)
  } catch (err) {
    ctx.h.add({ t: Date.now(), type: 'fail', op, try: 1, node: x.name, error: (err as Error).message, definite: false })
    ctx.note('disk-full', 'info', x, `probe: NO CLEAR ANSWER (${(err as Error).message})`)
  }
}

export function probeOps (): () => number {
  let k = 0
  return () => PROBE_OP_BASE + k++
}
