// /metrics against a real node: valid Prometheus text, the families the contract names, and counters
// and histograms that move when tasks run.

import assert from 'node:assert/strict'
import { startCluster, type TestCluster } from './cluster.js'
import { parsePrometheus, value } from './prometheus.js'
import { eventually } from '../helpers/eventually.js'

describe('e2e: Prometheus /metrics', function () {
  this.timeout(60_000)
  let cluster: TestCluster

  before(async () => { cluster = await startCluster(1) })
  after(async () => { await cluster?.stop() })

  const scrape = async (): Promise<ReturnType<typeof parsePrometheus>> => {
    const res = await fetch(cluster.clients[0].url + '/metrics')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type')!, /text\/plain/)
    return parsePrometheus(await res.text())
  }

  it('is valid exposition text with the contract families', async () => {
    const m = await scrape()
    const expect: Record<string, string> = {
      retire_cluster_tasks_submitted: 'counter',
      retire_cluster_tasks_finished: 'counter',
      retire_cluster_tasks: 'gauge',
      retire_cluster_queue_depth: 'gauge',
      retire_cluster_scheduling_latency_seconds: 'histogram',
      retire_cluster_task_execution_seconds: 'histogram',
      retire_cluster_raft_term: 'gauge',
      retire_cluster_raft_commit_index: 'gauge',
      retire_cluster_raft_leader_changes: 'gauge',
      retire_cluster_device_cpu_usage_percent: 'gauge',
      retire_cluster_device_memory_usage_percent: 'gauge',
      retire_cluster_device_active_tasks: 'gauge'
    }
    for (const [name, type] of Object.entries(expect)) {
      // prom-client names a counter family without its _total suffix in TYPE lines
      const f = m.get(name) ?? m.get(`${name}_total`)
      assert.ok(f !== undefined, `family ${name}`)
      assert.equal(f.type, type, name)
    }
    // this node's process (names as prom-client's default metrics): RSS above the V8 heap in use
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes']) assert.equal(m.get(name)?.type, 'gauge', name)
    assert.equal(m.get('process_cpu_seconds')?.type ?? m.get('process_cpu_seconds_total')?.type, 'counter')
    assert.ok(value(m, 'nodejs_heap_size_used_bytes') > 1e6, 'heap in use > 1 MB')
    assert.ok(value(m, 'process_resident_memory_bytes') > value(m, 'nodejs_heap_size_used_bytes'), 'RSS > heap in use')
    assert.ok(value(m, 'process_cpu_seconds_total') > 0, 'some CPU time')
    assert.ok(value(m, 'retire_cluster_raft_term') >= 1, 'raft term >= 1')
    assert.equal(value(m, 'retire_cluster_raft_is_leader'), 1)
    assert.equal(m.get('retire_cluster_device_cpu_usage_percent')!.samples.length, 1)
    assert.equal(m.get('retire_cluster_device_cpu_usage_percent')!.samples[0].labels.device, cluster.nodes[0].id)
  })

  it('moves counters, histograms and the commit index as tasks run', async () => {
    const before = await scrape()
    const ids = await Promise.all([1, 2, 3, 4, 5].map(async n => await cluster.clients[0].submitTask({ task_type: 'echo', payload: { n } })))
    await Promise.all(ids.map(async id => assert.equal((await cluster.clients[0].waitTask(id, 20_000)).status, 'completed')))
    const after = await eventually(async () => {
      const m = await scrape()
      return value(m, 'retire_cluster_tasks_finished_total', { status: 'completed' }) >= value(before, 'retire_cluster_tasks_finished_total', { status: 'completed' }) + 5 ? m : false
    }, { timeoutMs: 5000, intervalMs: 100 })
    assert.equal(value(after, 'retire_cluster_tasks_submitted_total') - value(before, 'retire_cluster_tasks_submitted_total'), 5)
    assert.ok(value(after, 'retire_cluster_task_execution_seconds_count') >= value(before, 'retire_cluster_task_execution_seconds_count') + 5, 'value(after, \'retire_cluster_task_execution_seconds_count\') >= value(before...')
    assert.ok(value(after, 'retire_cluster_scheduling_latency_seconds_count') >= value(before, 'retire_cluster_scheduling_latency_seconds_count') + 5, 'value(after, \'retire_cluster_scheduling_latency_seconds_count\') >= value(be...')
    assert.ok(value(after, 'retire_cluster_raft_commit_index') > value(before, 'retire_cluster_raft_commit_index'), 'commit index moved')
    assert.ok(value(after, 'retire_cluster_task_events_total', { kind: 'complete' }) >= 5, 'value(after, \'retire_cluster_task_events_total\', { kind: \'complete\' }) >= 5')
  })
})
