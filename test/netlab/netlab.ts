// A few "hosts" on one machine for partition tests: network namespaces h1..hN, each with one veth
// (eth0, 10.232.<slot>.<i>/24) plugged into a bridge that lives in a switch namespace of its own.
// Partitions are nft drop rules on that bridge, so cutting and healing never touch the hosts.
//
// Safety, in this order and always:
// - Before any namespace exists, the root namespace gets `blackhole 10.232.<slot>.0/24`: no packet for
//   the test addresses can leave this machine, whatever a process in the root namespace dials.
// - Nothing here dials a test address from the root namespace; clients run inside a host namespace
//   (spawnIn / NsHttp). Host namespaces have no default route, only their /24 on the bridge.
// - down() (also run on process exit) kills what we started, by PID, deletes our namespaces (their
//   veths go with them) and the blackhole route. A run that died hard is swept by the next one: the
//   slot file names the owner PID, and a slot whose owner is gone is torn down before a new claim.
//
// Why slots: several runs (developers, CI) may share a machine; `ip route add` of the blackhole fails
// when it exists, which makes it an atomic claim on 10.232.<slot>.0/24 and its namespace names.

import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** the machine cannot host namespaces (not root, no ip/nft, netns refused): tests skip with this */
export class NetLabUnavailableError extends Error {
  constructor (message: string) { super(message); this.name = 'NetLabUnavailableError' }
}

export const NETLAB_SUBNET = '10.232.0.0/16'
const NET_PREFIX = '10.232'
const STATE_DIR = '/tmp/rc-netlab'
const MAX_SLOT = 250
const CMD_TIMEOUT_MS = 10_000

export interface NetLabOptions {
  hosts: number
}

export class NetLab {
  private readonly started = new Set<ChildProcess>()
  private closed = false
  private readonly onExit = (): void => { this.down() }
  // Ctrl-C / kill: Node's default action skips 'exit' handlers, so tear down, then die of the signal
  private readonly onSignal = (sig: NodeJS.Signals): void => { this.down(); process.kill(process.pid, sig) }

  private constructor (readonly slot: number, readonly hosts: number) {}

  /** why this machine cannot host a lab (first check only: namespaces may still be refused by up()) */
  static unavailableReason (): string | undefined { return unavailableReason() }

  /** Claim a slot and build the network; throws NetLabUnavailableError when the machine can't. */
  static up (o: NetLabOptions): NetLab {
    if (o.hosts < 1 || o.hosts > 50) throw new RangeError(`hosts: 1..50, got ${o.hosts}`)
    const why = unavailableReason()
    if (why !== undefined) throw new NetLabUnavailableError(why)
    sweepStale()
    const slot = claimSlot()
    const lab = new NetLab(slot, o.hosts)
    process.once('exit', lab.onExit)
    process.once('SIGINT', lab.onSignal)
    process.once('SIGTERM', lab.onSignal)
    try {
      lab.build()
    } catch (err) {
      lab.down()
      if (err instanceof NetLabUnavailableError) throw err
      const msg = (err as Error).message
      if (/netns|Operation not permitted|Permission denied/i.test(msg)) throw new NetLabUnavailableError(`network namespaces refused: ${msg}`)
      throw err
    }
    return lab
  }

  /** namespace of switch or host i (1-based) */
  get switchNs (): string { return `rc${this.slot}sw` }
  ns (i: number): string { return `rc${this.slot}h${i}` }
  addr (i: number): string { return `${NET_PREFIX}.${this.slot}.${i}` }
  /** true when `host` is one of this lab's addresses (clients refuse any other target) */
  isLabAddress (host: string): boolean { return host.startsWith(`${NET_PREFIX}.${this.slot}.`) }

  private build (): void {
    const sw = this.switchNs
    ip('netns', 'add', sw)
    ip('-n', sw, 'link', 'set', 'lo', 'up')
    ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', sw, 'link', 'set', 'br0', 'up')
    // partitions need nf_tables with the bridge family: find out now, not halfway through a test
    try {
      this.nft('add', 'table', 'bridge', 'probe')
      this.nft('delete', 'table', 'bridge', 'probe')
    } catch (err) {
      throw new NetLabUnavailableError(`nft cannot filter on a bridge here: ${(err as Error).message}`)
    }
    for (let i = 1; i <= this.hosts; i++) {
      const h = this.ns(i)
      ip('netns', 'add', h)
      ip('-n', h, 'link', 'set', 'lo', 'up')
      // created straight inside the two namespaces: nothing of it ever exists in the root namespace
      ip('link', 'add', `p${i}`, 'netns', sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h)
      ip('-n', h, 'addr', 'add', `${this.addr(i)}/24`, 'dev', 'eth0')
      ip('-n', h, 'link', 'set', 'eth0', 'up')
      ip('-n', sw, 'link', 'set', `p${i}`, 'master', 'br0')
      ip('-n', sw, 'link', 'set', `p${i}`, 'up')
    }
  }

  /** Drop every frame (ARP included) between the two groups of hosts, both ways. */
  partition (a: number[], b: number[]): void {
    const table = this.nft('list', 'tables').includes('bridge chaos')
    if (!table) {
      this.nft('add', 'table', 'bridge', 'chaos')
      // "fwd" would be an nft keyword; "filt" is not
      this.nft('add', 'chain', 'bridge', 'chaos', 'filt', '{ type filter hook forward priority 0; policy accept; }')
    }
    for (const x of a) {
      for (const y of b) {
        this.nft('add', 'rule', 'bridge', 'chaos', 'filt', 'iifname', `p${x}`, 'oifname', `p${y}`, 'drop')
        this.nft('add', 'rule', 'bridge', 'chaos', 'filt', 'iifname', `p${y}`, 'oifname', `p${x}`, 'drop')
      }
    }
  }

  /** Remove every partition. */
  heal (): void {
    if (this.nft('list', 'tables').includes('bridge chaos')) this.nft('delete', 'table', 'bridge', 'chaos')
  }

  private nft (...args: string[]): string {
    return run('ip', ['netns', 'exec', this.switchNs, 'nft', ...args])
  }

  /**
   * Start `cmd` inside host i's namespace. `ip netns exec` execs the command, so child.pid is the
   * command's own PID; down() kills it by that PID.
   */
  spawnIn (i: number, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.closed) throw new Error('netlab is down')
    const child = spawn('ip', ['netns', 'exec', this.ns(i), cmd, ...args], opts)
    this.started.add(child)
    child.once('exit', () => { this.started.delete(child) })
    return child
  }

  /** Tear everything down; safe to call twice and from an exit handler (all synchronous). */
  down (): void {
    if (this.closed) return
    this.closed = true
    process.off('exit', this.onExit)
    process.off('SIGINT', this.onSignal)
    process.off('SIGTERM', this.onSignal)
    for (const child of this.started) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try { process.kill(child.pid, 'SIGKILL') } catch { /* already gone */ }
      }
    }
    teardownSlot(this.slot)
  }
}

function unavailableReason (): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'needs root for network namespaces'
  if (!onPath('ip')) return 'no `ip` command (apt-get install iproute2)'
  if (!onPath('nft')) return 'no `nft` command (apt-get install nftables)'
  return undefined
}

function onPath (bin: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some(d => d !== '' && existsSync(join(d, bin)))
}

/** Claim a free slot by adding its blackhole route (fails if present). Bounded: MAX_SLOT tries. */
function claimSlot (): number {
  mkdirSync(STATE_DIR, { recursive: true })
  const first = process.pid % MAX_SLOT
  let lastErr = ''
  for (let k = 0; k < MAX_SLOT; k++) {
    const slot = 1 + (first + k) % MAX_SLOT
    if (existsSync(slotFile(slot)) || existsSync(`/var/run/netns/rc${slot}sw`)) continue
    try {
      ip('route', 'add', 'blackhole', `${NET_PREFIX}.${slot}.0/24`)
    } catch (err) {
      lastErr = (err as Error).message
      if (/File exists/i.test(lastErr)) continue
      throw new NetLabUnavailableError(`cannot add the blackhole route: ${lastErr}`)
    }
    writeFileSync(slotFile(slot), JSON.stringify({ pid: process.pid }))
    return slot
  }
  throw new Error(`netlab: no free slot in ${NETLAB_SUBNET} (${lastErr})`)
}

/** Tear down slots whose owning process is gone (a run killed before its cleanup). */
function sweepStale (): void {
  if (!existsSync(STATE_DIR)) return
  for (const f of readdirSync(STATE_DIR)) {
    const m = /^slot-(\d+)\.json$/.exec(f)
    if (m === null) continue
    let pid = 0
    try { pid = (JSON.parse(readFileSync(join(STATE_DIR, f), 'utf8')) as { pid: number }).pid } catch { /* half written: treat as stale */ }
    if (pid > 0 && alive(pid)) continue
    teardownSlot(Number(m[1]))
  }
}

function teardownSlot (slot: number): void {
  const ours = new RegExp(`^rc${slot}(sw|h\\d+)$`)
  // hosts first, the switch last (deleting a host namespace takes its veth pair with it)
  const names = listNetns().filter(n => ours.test(n)).sort((a, b) => Number(a.endsWith('sw')) - Number(b.endsWith('sw')))
  for (const ns of names) {
    // whatever still runs inside our namespaces was started by a run of ours
    for (const pid of tryRun('ip', ['netns', 'pids', ns]).split(/\s+/).filter(s => /^\d+$/.test(s))) {
      try { process.kill(Number(pid), 'SIGKILL') } catch { /* gone */ }
    }
    tryRun('ip', ['netns', 'del', ns])
  }
  tryRun('ip', ['route', 'del', 'blackhole', `${NET_PREFIX}.${slot}.0/24`])
  rmSync(slotFile(slot), { force: true })
}

function listNetns (): string[] {
  return tryRun('ip', ['netns', 'list']).split('\n').map(l => l.split(' ')[0]!).filter(s => s !== '')
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

const slotFile = (slot: number): string => join(STATE_DIR, `slot-${slot}.json`)

function ip (...args: string[]): string { return run('ip', args) }

function run (cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: CMD_TIMEOUT_MS })
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`)
  }
}

function tryRun (cmd: string, args: string[]): string {
  try { return run(cmd, args) } catch { return '' }
}
