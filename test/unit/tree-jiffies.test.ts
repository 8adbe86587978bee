// readTreeJiffies: the CPU time of a node's process tree (the node and its executor children), for
// "CPU used outside the cluster". Walked through /proc/<pid>/task/<tid>/children where the kernel
// has it, else by scanning every process; both must give the same sum.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readTreeJiffies } from '../../src/node/system/signals.js'

/** a /proc/<pid>/stat line: utime, stime, cutime, cstime in fields 14..17; a comm with spaces and ')' */
const stat = (pid: number, ppid: number, u: number, s: number, cu = 0, cs = 0): string =>
  `${pid} (node (x) y) S ${ppid} ${pid} ${pid} 0 -1 4194560 100 0 0 0 ${u} ${s} ${cu} ${cs} 20 0 1 0 100 1000 50`

interface Proc { pid: number, ppid: number, u: number, s: number, cu?: number, cs?: number, threads?: number[] }

function fakeProc (procs: Proc[], withChildren: boolean): string {
  const root = mkdtempSync(join(tmpdir(), 'rc-proc-'))
  for (const p of procs) {
    const dir = join(root, 'proc', String(p.pid))
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'stat'), stat(p.pid, p.ppid, p.u, p.s, p.cu, p.cs) + '\n')
    for (const tid of p.threads ?? [p.pid]) {
      mkdirSync(join(dir, 'task', String(tid)), { recursive: true })
      // the kernel lists a child under the thread that forked it
      const kids = tid === (p.threads ?? [p.pid])[0] ? procs.filter(c => c.ppid === p.pid).map(c => c.pid) : []
      if (withChildren) writeFileSync(join(dir, 'task', String(tid), 'children'), kids.map(k => `${k} `).join(''))
    }
  }
  return root
}

const TREE: Proc[] = [
  { pid: 100, ppid: 1, u: 500, s: 100, cu: 7, cs: 3, threads: [100, 105, 106] }, // the node, with threads
  { pid: 101, ppid: 100, u: 40, s: 10 }, // an executor child
  { pid: 102, ppid: 100, u: 5, s: 5 },
  { pid: 103, ppid: 101, u: 2, s: 1 }, // a grandchild (a task's own subprocess)
  { pid: 200, ppid: 1, u: 9000, s: 900 }, // the owner's browser: not ours
  { pid: 201, ppid: 200, u: 800, s: 80 }
]
const OURS = 500 + 100 + 7 + 3 + 40 + 10 + 5 + 5 + 2 + 1

describe('readTreeJiffies', () => {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

  it('sums the node and its descendants only, through the children files', () => {
    const root = fakeProc(TREE, true)
    dirs.push(root)
    // a stat that names 100 as parent while no children file lists it: a scan would count it, the
    // walk does not (this is how the test knows which way the sum was made)
    writeFileSync(join(root, 'proc', '200', 'stat'), stat(200, 100, 9000, 900) + '\n')
    assert.equal(readTreeJiffies(root, 100), OURS)
    assert.equal(readTreeJiffies(root, 101), 40 + 10 + 2 + 1)
  })

  it('gives the same sum by scanning every process where the kernel has no children file', () => {
    const root = fakeProc(TREE, false)
    dirs.push(root)
    assert.equal(readTreeJiffies(root, 100), OURS)
  })

  it('a process gone before it was read is skipped; a missing root is unknown', () => {
    const root = fakeProc(TREE, true)
    dirs.push(root)
    rmSync(join(root, 'proc', '103'), { recursive: true })
    assert.equal(readTreeJiffies(root, 100), OURS - 3)
    assert.equal(readTreeJiffies(root, 999), undefined)
  })

  it('on this machine: at least the CPU time of this process', () => {
    const own = Math.floor((process.cpuUsage().user + process.cpuUsage().system) / 1e6 * 100) // jiffies at 100 Hz
    const t = readTreeJiffies('/', process.pid)
    if (t === undefined) return // no /proc here
    assert.ok(t >= own - 2, `tree ${t} jiffies, own ${own}`)
  })
})
