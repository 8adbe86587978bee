// The `retire-cluster` binary against real nodes: every client command, --json output, and the
// one-line errors and exit codes scripts rely on (0 ok, 1 node said no, 2 usage, 3 unreachable, 4 task failed).

import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { startCluster, withP2p, type TestCluster } from './cluster.js'
import { runCli, spawnCli } from './cli-runner.js'
import { eventually } from '../helpers/eventually.js'

describe('e2e: CLI', function () {
  this.timeout(90_000)
  let cluster: TestCluster
  let dd: string[]
  let tmp: string

  before(async () => {
    cluster = await startCluster(1)
    dd = ['--data-dir', cluster.dataDirs[0]]
    tmp = mkdtempSync(join(tmpdir(), 'rc-cli-'))
  })
  after(async () => {
    await cluster?.stop()
    rmSync(tmp, { recursive: true, force: true })
  })

  const oneLineError = (stderr: string): void => {
    const lines = stderr.trim().split('\n')
    assert.equal(lines.length, 1, `one line: ${stderr}`)
    assert.match(lines[0], /^error: /)
  }

  it('prints help for every command', async () => {
    const top = await runCli(['--help'])
    assert.equal(top.code, 0)
    for (const c of ['start', 'submit', 'status', 'tasks', 'cancel', 'nodes', 'batch', 'workflow', 'metrics', 'key']) assert.match(top.stdout, new RegExp(`\\b${c}\\b`))
    const submit = await runCli(['submit', '--help'])
    assert.equal(submit.code, 0)
    assert.match(submit.stdout, /--payload/)
    assert.match(submit.stdout, /--wait/)
    const start = await runCli(['start', '--help'])
    for (const f of ['--data-dir', '--listen', '--bootstrap', '--no-mdns', '--role', '--cluster-key', '--bootstrap-expect', '--voters', '--grant', '--allowed-paths', '--handlers', '--api-host', '--api-port', '--max-concurrent', '--device-timeout-ms', '--name']) {
      assert.ok(start.stdout.includes(f), f)
    }
  })

  it('submit prints the id; status and tasks show it; --wait prints the outcome', async () => {
    const sub = await runCli(['submit', 'echo', '--payload', '{"message":"from cli"}', '--priority', 'high', ...dd])
    assert.equal(sub.code, 0, sub.stderr)
    const id = sub.stdout.trim()
    assert.match(id, /^\S+$/)
    await eventually(async () => (await cluster.clients[0].getTask(id)).status === 'completed', { timeoutMs: 15_000, intervalMs: 100 })
    const st = await runCli(['status', id, '--json', ...dd])
    assert.equal(st.code, 0, st.stderr)
    const rec = JSON.parse(st.stdout)
    assert.equal(rec.id, id)
    assert.equal(rec.status, 'completed')
    assert.equal(rec.priority, 2)
    assert.deepEqual(rec.result, { message: 'from cli' })
    const human = await runCli(['status', id, ...dd])
    assert.match(human.stdout, /status:\s+completed/)
    const list = await runCli(['tasks', '--status', 'completed', '--json', ...dd])
    assert.equal(list.code, 0)
    assert.ok(JSON.parse(list.stdout).some((t: { id: string }) => t.id === id), 'JSON.parse(list.stdout).some((t: { id: string }) => t.id === id)')
    const table = await runCli(['tasks', ...dd])
    assert.match(table.stdout, /^ID\s+TYPE\s+STATUS/)
    assert.ok(table.stdout.includes(id), 'table.stdout.includes(id)')
    const waited = await runCli(['submit', 'echo', '-p', '{"n":7}', '--wait', '--json', ...dd])
    assert.equal(waited.code, 0, waited.stderr)
    assert.equal(JSON.parse(waited.stdout).status, 'completed')
  })

  it('submit reads a YAML task file with the seed snake_case names', async () => {
    const file = join(tmp, 'task.yaml')
    writeFileSync(file, 'task_type: echo\npayload:\n  message: from yaml\npriority: low\nrequirements:\n  min_cpu_cores: 1\n  timeout_seconds: 30\n')
    const r = await runCli(['submit', '--file', file, '--wait', '--json', ...dd])
    assert.equal(r.code, 0, r.stderr)
    const rec = JSON.parse(r.stdout)
    assert.deepEqual(rec.result, { message: 'from yaml' })
    assert.equal(rec.priority, 4)
  })

  it('nodes shows the device table', async () => {
    const r = await runCli(['nodes', ...dd])
    assert.equal(r.code, 0, r.stderr)
    for (const h of ['ID', 'NAME', 'ROLE', 'LEADER', 'PLATFORM', 'CORES', 'MEMORY', 'CPU%', 'BATTERY', 'ACTIVE', 'LAST SEEN']) assert.ok(r.stdout.includes(h), h)
    assert.ok(r.stdout.includes(cluster.nodes[0].id), 'r.stdout.includes(cluster.nodes[0].id)')
    const j = await runCli(['nodes', '--json', ...dd])
    const nodes = JSON.parse(j.stdout)
    assert.equal(nodes.length, 1)
    assert.equal(nodes[0].isLeader, true)
  })

  it('cancel stops a running task', async () => {
    const id = (await runCli(['submit', 'sleep', '-p', '{"duration":30}', ...dd])).stdout.trim()
    await eventually(async () => (await cluster.clients[0].getTask(id)).status === 'running', { timeoutMs: 15_000, intervalMs: 100 })
    const r = await runCli(['cancel', id, ...dd])
    assert.equal(r.code, 0, r.stderr)
    await eventually(async () => (await cluster.clients[0].getTask(id)).status === 'cancelled', { timeoutMs: 10_000, intervalMs: 100 })
  })

  it('batch FILE submits, follows and summarizes', async () => {
    const file = join(tmp, 'batch.json')
    writeFileSync(file, JSON.stringify({ name: 'cli-batch', description: 'e2e', tasks: [1, 2, 3, 4, 5, 6].map(n => ({ task_type: 'echo', payload: { n } })) }))
    const r = await runCli(['batch', file, ...dd])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /6\/6 completed, 0 failed/)
    const j = await runCli(['batch', file, '--json', ...dd])
    const out = JSON.parse(j.stdout)
    assert.equal(out.total, 6)
    assert.equal(out.completed, 6)
    assert.equal(out.taskIds.length, 6)
  })

  it('workflow FILE runs steps in order and prints each step', async () => {
    const file = join(tmp, 'wf.yaml')
    writeFileSync(file, [
      'name: cli-flow',
      'steps:',
      '  - name: fetch',
      '    task: { task_type: echo, payload: { step: 1 } }',
      '    dependsOn: []',
      '  - name: report',
      '    task: { task_type: echo, payload: { step: 2 } }',
      '    dependsOn: [fetch]',
      ''
    ].join('\n'))
    const r = await runCli(['workflow', file, ...dd])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^STEP\s+TASK\s+STATUS/)
    assert.match(r.stdout, /fetch\s+\S+\s+completed/)
    assert.match(r.stdout, /report\s+\S+\s+completed/)
    assert.match(r.stdout, /completed$/m)
    const bad = await runCli(['workflow', file, '--var', 'novalue', ...dd])
    assert.equal(bad.code, 2)
    oneLineError(bad.stderr)
  })

  it('workflow TEMPLATE --var k=v instantiates a TaskTemplate; a missing variable is refused', async () => {
    const file = join(tmp, 'template.json')
    writeFileSync(file, JSON.stringify({
      name: 'greet',
      tasks: [
        { name: 'hello', task_type: 'echo', payload: { message: 'hello {{who}}', times: '{{times}}' } },
        { name: 'bye', task_type: 'echo', payload: { message: 'bye {{who}}' } }
      ]
    }))
    const r = await runCli(['workflow', file, '--var', 'who=pi', '--var', 'times=3', '--json', ...dd])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.status, 'completed')
    assert.deepEqual(out.steps.map((st: { name: string }) => st.name), ['hello', 'bye'])
    const hello = await cluster.clients[0].getTask(out.taskIds[0])
    assert.deepEqual(hello.result, { message: 'hello pi', times: 3 })
    const missing = await runCli(['workflow', file, '--var', 'who=pi', ...dd])
    assert.equal(missing.code, 1)
    oneLineError(missing.stderr)
    assert.match(missing.stderr, /times/)
  })

  it('metrics prints the period summary', async () => {
    const r = await runCli(['metrics', '--period', '24h', '--json', ...dd])
    assert.equal(r.code, 0, r.stderr)
    const m = JSON.parse(r.stdout)
    assert.ok(m.totalTasks >= 10, 'm.totalTasks >= 10')
    assert.ok(m.successRate > 0 && m.successRate <= 100, 'm.successRate > 0 && m.successRate <= 100')
    const human = await runCli(['metrics', ...dd])
    assert.match(human.stdout, /success rate:\s+[\d.]+%/)
  })

  it('works with --api URL --token-file FILE', async () => {
    const r = await runCli(['nodes', '--json', '--api', cluster.clients[0].url, '--token-file', join(cluster.dataDirs[0], 'api-token')])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout)[0].id, cluster.nodes[0].id)
  })

  it('exits 1 with one line when the node refuses', async () => {
    const r = await runCli(['status', 'no-such-task', ...dd])
    assert.equal(r.code, 1)
    oneLineError(r.stderr)
    assert.match(r.stderr, /not found/)
    const wrongToken = join(tmp, 'wrong-token')
    writeFileSync(wrongToken, 'not-the-token-0123456789\n')
    const bad = await runCli(['nodes', '--api', cluster.clients[0].url, '--token-file', wrongToken])
    assert.equal(bad.code, 1, 'a wrong token is refused by the node')
    oneLineError(bad.stderr)
    assert.match(bad.stderr, /token/)
  })

  it('exits 2 on bad usage without contacting the node', async () => {
    const before = (await cluster.clients[0].listTasks({ limit: 10000 })).length
    for (const args of [['submit', ...dd], ['submit', 'echo', '--priority', 'soonish', ...dd], ['submit', 'echo', '--payload', '{nope', ...dd], ['tasks', '--status', 'sleeping', ...dd], ['frobnicate'], ['batch', join(tmp, 'missing.json'), ...dd], ['nodes', '--api', cluster.clients[0].url]]) {
      const r = await runCli(args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      oneLineError(r.stderr)
    }
    assert.equal((await cluster.clients[0].listTasks({ limit: 10000 })).length, before)
  })

  it('exits 3 when no node can be reached', async () => {
    const r = await runCli(['nodes', '--data-dir', join(tmp, 'nothing-here')])
    assert.equal(r.code, 3)
    oneLineError(r.stderr)
    const down = await runCli(['nodes', '--api', 'http://127.0.0.1:9', '--token-file', join(cluster.dataDirs[0], 'api-token')])
    assert.equal(down.code, 3)
    oneLineError(down.stderr)
  })

  it('exits 4 when a waited task does not complete', async () => {
    const r = await runCli(['submit', 'no_such_type', '--wait', '--wait-timeout', '2', ...dd])
    assert.equal(r.code, 4, r.stderr)
    oneLineError(r.stderr)
    assert.match(r.stderr, /no_such_type/)
  })

  it('key generate writes a swarm key and will not overwrite it', async () => {
    const out = join(tmp, 'cluster.key')
    const r = await runCli(['key', 'generate', '--out', out])
    assert.equal(r.code, 0, r.stderr)
    assert.match(readFileSync(out, 'utf8'), /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    const again = await runCli(['key', 'generate', '--out', out])
    assert.equal(again.code, 2)
    oneLineError(again.stderr)
    const printed = await runCli(['key', 'generate'])
    assert.match(printed.stdout, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
  })

  it('start runs a node that joins the cluster, writes node.json, and stops on SIGTERM', async () => {
    const dataDir = join(tmp, 'started')
    const child = spawnCli(['start', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--api-port', '0',
      '--bootstrap', withP2p(cluster.nodes[0])[0], '--name', 'cli-started', '--log-level', 'silent'])
    let stderr = ''
    child.stderr!.on('data', (b: Buffer) => { stderr += b.toString() })
    try {
      await eventually(() => existsSync(join(dataDir, 'node.json')) && existsSync(join(dataDir, 'api-token')), { timeoutMs: 20_000, intervalMs: 100, message: 'node.json written' })
      const info = JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8'))
      assert.match(info.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
      await eventually(async () => (await cluster.nodes[0].nodes()).some(n => n.name === 'cli-started' && n.alive), { timeoutMs: 20_000, intervalMs: 200, message: 'joined' })
      const r = await runCli(['nodes', '--json', '--data-dir', dataDir])
      assert.equal(r.code, 0, r.stderr)
      assert.ok(JSON.parse(r.stdout).some((n: { name: string }) => n.name === 'cli-started'), 'JSON.parse(r.stdout).some((n: { name: string }) => n.name === \'cli-started\')')
    } finally {
      child.kill('SIGTERM')
      const [code] = await Promise.race([once(child, 'exit'), new Promise<[number]>(resolve => setTimeout(() => { child.kill('SIGKILL'); resolve([-1]) }, 15_000))])
      assert.equal(code, 0, stderr)
    }
  })
})
