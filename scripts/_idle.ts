// idle memory over minutes: two 3-node clusters side by side, B with RC_IDLE_ENV_B (k=v,...) in its environment
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { readdirSync, readFileSync } from 'node:fs'
import { startProcCluster, waitForLeader, sleep, cpuSeconds, type NodeProc } from './lib/proc-cluster.js'
const minutes = Number(process.argv[2] ?? 5)
const envB = Object.fromEntries((process.env.RC_IDLE_ENV_B ?? '').split(',').filter(Boolean).map(kv => kv.split('=')))
function threads (pid: number): string {
  const names = readdirSync(`/proc/${pid}/task`).map(t => { try { return readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() } catch { return '?' } })
  const c: Record<string, number> = {}; for (const n of names) c[n] = (c[n] ?? 0) + 1
  return Object.entries(c).map(([k, v]) => `${k}:${v}`).join(',')
}
const rss = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024
const saved = { ...process.env }
const A = await startProcCluster({ nodes: 3, baseDir: join(tmpdir(), 'rc-idle-a') })
Object.assign(process.env, envB)
const B = await startProcCluster({ nodes: 3, baseDir: join(tmpdir(), 'rc-idle-b') })
for (const k of Object.keys(envB)) delete process.env[k]
void saved
try {
  await waitForLeader(A, 60_000); await waitForLeader(B, 60_000)
  console.log('A threads', threads(A[0]!.pid!)); console.log('B threads', threads(B[0]!.pid!))
  const t0 = Date.now()
  const cpu0 = [...A, ...B].map(p => cpuSeconds(p.pid!))
  while (Date.now() - t0 < minutes * 60_000) {
    const s = (ps: NodeProc[]): string => ps.map(p => rss(p.pid!).toFixed(1)).join('/')
    console.log(`${Math.round((Date.now() - t0) / 1000)}s A ${s(A)}  B ${s(B)}`)
    await sleep(30_000)
  }
  const cpu1 = [...A, ...B].map(p => cpuSeconds(p.pid!))
  const pct = cpu1.map((c, i) => (100 * (c - cpu0[i]!) / ((Date.now() - t0) / 1000)).toFixed(2))
  console.log('cpu% A', pct.slice(0, 3).join('/'), 'B', pct.slice(3).join('/'))
} finally {
  await Promise.all([...A, ...B].map(p => p.stop?.()))
}
