// Network faults for the soak, with the nodes in network namespaces (test/netlab: one host per node on
// a bridge in a switch namespace). Rules go into a table of our own on that bridge ("soak"), so they
// never touch the lab's partition table; healing deletes the table and sets every port up.
//
//   one-way-cut       frames from one node (the leader half the time) to every other are dropped, or
//                     the reverse (to it): it still hears, or still speaks, but not both
//   flap              one node's link goes down and up every 150-500 ms
//   partition-leader  the leader and a minority (with 5 nodes: one follower) are cut from the rest
import { execFileSync } from 'node:child_process'
import { sleep } from '../../scripts/lib/proc-cluster.js'
import type { NetLab } from '../netlab/netlab.js'
import type { SoakCluster, SoakNode } from './cluster.js'
import type { ExtraFault, NemesisContext, PlannedFault } from './nemesis.js'

export const NET_FAULTS = ['one-way-cut', 'flap', 'partition-leader'] as const

const TABLE = 'soak'

function sw (lab: NetLab, ...args: string[]): void {
  execFileSync('ip', ['netns', 'exec', lab.switchNs, ...args], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 })
}

function ensureTable (lab: NetLab): void {
  healNet(lab, 0)
  sw(lab, 'nft', 'add', 'table', 'bridge', TABLE)
  sw(lab, 'nft', 'add', 'chain', 'bridge', TABLE, 'filt', '{ type filter hook forward priority 0; policy accept; }')
}

function drop (lab: NetLab, from: number, to: number): void {
  sw(lab, 'nft', 'add', 'rule', 'bridge', TABLE, 'filt', 'iifname', `p${from}`, 'oifname', `p${to}`, 'drop')
}

/** remove our rules and bring every port up (hosts 1..n) */
export function healNet (lab: NetLab, n: number): void {
  try { sw(lab, 'nft', 'delete', 'table', 'bridge', TABLE) } catch { /* no table: nothing cut */ }
  for (let i = 1; i <= n; i++) {
    try { sw(lab, 'ip', 'link', 'set', `p${i}`, 'up') } catch { /* gone with the lab */ }
  }
}

async function holdFor (ms: number, ctx: NemesisContext): Promise<void> {
  const until = Date.now() + ms
  while (ctx.active() && Date.now() < until) await sleep(Math.min(100, until - Date.now()))
}

export function netFaults (lab: NetLab): Map<string, ExtraFault> {
  const m = new Map<string, ExtraFault>()
  const leaderOr = async (c: SoakCluster, ctx: NemesisContext, kind: string): Promise<SoakNode | undefined> => {
    const l = await c.waitLeader(10_000)
    if (l === undefined) ctx.note(kind, 'info', undefined, 'no leader agreed within 10 s: fault skipped')
    return l
  }
  const pick = (u: number, xs: SoakNode[]): SoakNode => xs[Math.floor(u * xs.length)]!
  const downMs = (f: PlannedFault): number => 1500 + f.downMs

  m.set('one-way-cut', async (f, ctx) => {
    const c = ctx.cluster
    const l = await leaderOr(c, ctx, f.kind); if (l === undefined) return
    const x = f.u < 0.5 ? l : pick(f.v, c.nodes.filter(y => y !== l))
    const xi = c.index(x)
    const outgoing = Math.floor(f.u * 1000) % 2 === 0
    ensureTable(lab)
    for (const y of c.nodes) if (y !== x) { const yi = c.index(y); if (outgoing) drop(lab, xi, yi); else drop(lab, yi, xi) }
    ctx.note(f.kind, 'start', x, `${outgoing ? 'from' : 'to'} ${x.name}${x === l ? ' (leader)' : ''} dropped`)
    await holdFor(downMs(f), ctx)
    healNet(lab, c.nodes.length)
    ctx.note(f.kind, 'end', x)
  })

  m.set('flap', async (f, ctx) => {
    const c = ctx.cluster
    const l = await leaderOr(c, ctx, f.kind); if (l === undefined) return
    const x = f.u < 0.4 ? l : pick(f.v, c.nodes.filter(y => y !== l))
    const xi = c.index(x)
    const periodMs = 150 + Math.round(f.v * 350)
    ctx.note(f.kind, 'start', x, `link down/up every ${periodMs} ms`)
    const until = Date.now() + downMs(f)
    let down = false
    // bounded: one toggle per period until the fault's end
    for (let k = 0; k < 1000 && ctx.active() && Date.now() < until; k++) {
      down = !down
      sw(lab, 'ip', 'link', 'set', `p${xi}`, down ? 'down' : 'up')
      await sleep(periodMs)
    }
    healNet(lab, c.nodes.length)
    ctx.note(f.kind, 'end', x)
  })

  m.set('partition-leader', async (f, ctx) => {
    const c = ctx.cluster
    const l = await leaderOr(c, ctx, f.kind); if (l === undefined) return
    const minority = Math.floor((c.nodes.length - 1) / 2)
    const others = c.nodes.filter(y => y !== l)
    // the leader plus (minority - 1) followers chosen by the plan
    const side = [l]
    for (let k = 0; side.length < minority && k < others.length; k++) side.push(others[(Math.floor(f.v * others.length) + k) % others.length]!)
    const rest = c.nodes.filter(y => !side.includes(y))
    ensureTable(lab)
    for (const a of side) for (const b of rest) { drop(lab, c.index(a), c.index(b)); drop(lab, c.index(b), c.index(a)) }
    ctx.note(f.kind, 'start', l, `{${side.map(y => y.name).join(',')}} | {${rest.map(y => y.name).join(',')}}`)
    await holdFor(2000 + downMs(f), ctx)
    healNet(lab, c.nodes.length)
    ctx.note(f.kind, 'end', l)
  })
  return m
}
