// Seed "安全和沙盒": SandboxConfig on a task, TaskPermissions it requires, and what happens when a
// device does not grant them.
// Run: npx tsx examples/sandbox-permissions.ts
import { SandboxConfig, Task, TaskPermissions, type ClusterNode, type TaskRecord } from '../src/index.js'
import { runIfMain, startDemoNode } from './_node.js'

// the seed's shape works as is (sizes as strings); camelCase has explicit units:
// { allowNetwork, allowFilesystem, allowedPaths, maxFileSizeBytes, maxExecutionTimeSeconds, memoryLimitBytes, cpuLimitPercent }
export const sandboxConfig = new SandboxConfig({
  allow_network: false,              // the task's processes get no network (unshare --net)
  allow_filesystem: true,            // file access at all (default false when a sandbox_config is given)
  allowed_paths: ['/tmp', '/data'],  // narrows the node's --allowed-paths, never widens them
  max_file_size: '100MB',
  max_execution_time: 300,           // seconds; the stricter of this and requirements.timeout_seconds wins
  memory_limit: '2GB',
  cpu_limit: 80                      // percent
})

export function sandboxedTask (): Task {
  return new Task({
    taskType: 'python_eval',
    payload: { expression: 'sorted([3, 1, 2])' },
    sandboxConfig,                   // scheduled only on devices that can enforce every limit set here
    requiredPermissions: [TaskPermissions.READ_FILES]
  })
}

/** A task that needs a grant no node gives stays pending (the leader says why), it does not fail. */
export async function permissions (node: ClusterNode): Promise<{ ok: TaskRecord, blocked: TaskRecord | undefined }> {
  const okId = await node.scheduler.submitTask(sandboxedTask())
  const ok = await node.scheduler.waitForResult(okId, { timeoutMs: 30_000 })
  console.log(ok.status, ok.result)                             // completed [1, 2, 3]

  // default nodes grant read_files + write_files only; network_access and system_commands are opt-in
  const blockedId = await node.scheduler.submitTask({
    task_type: 'echo',
    payload: { input_file: 'data.txt' },
    required_permissions: [TaskPermissions.READ_FILES, TaskPermissions.NETWORK_ACCESS]
  })
  await new Promise(resolve => setTimeout(resolve, 1000))
  const blocked = await node.scheduler.getTaskStatus(blockedId)
  console.log(blocked?.status, blocked?.pendingReason)          // pending, "... required_permissions: device does not grant network_access"
  await node.scheduler.cancelTask(blockedId)
  return { ok, blocked }
}

runIfMain(import.meta.url, async () => {
  const node = await startDemoNode()
  try { await permissions(node) } finally { await node.stopAndClean() }
})
