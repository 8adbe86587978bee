// Seed "内置任务类型": the six built-in types and their payloads.
// Run: npx tsx examples/builtin-tasks.ts
import { Task, type ClusterNode } from '../src/index.js'
import { runIfMain, startDemoNode } from './_node.js'

export function builtinTasks (filesDir: string): Record<string, Task> {
  return {
    // returns its payload unchanged: a connectivity probe
    echo: new Task({ taskType: 'echo', payload: { message: 'your message' } }),
    // sleeps `duration` seconds, reporting progress; cancellable
    sleep: new Task({ taskType: 'sleep', payload: { duration: 0.5 } }),
    // the device's capabilities and load (platform, arch, cores, memory, battery, ...)
    systemInfo: new Task({ taskType: 'system_info', payload: {} }),
    // a real Python expression, AST-checked against a whitelist, run in python3 with limits;
    // only nodes with python3 advertise it
    pythonEval: new Task({ taskType: 'python_eval', payload: { expression: '2 + 2' } }),
    // argv (or `shell: true` with a string); only on nodes started with --grant ...,system_commands,
    // and only from principals whose role has system_commands
    command: new Task({ taskType: 'command', payload: { command: ['ls', '-la'], cwd: filesDir } }),
    // read, write, append, list, stat, delete, mkdir — only inside the node's allowed paths
    fileWrite: new Task({ taskType: 'file_operation', payload: { operation: 'write', path: `${filesDir}/hello.txt`, content: 'hi' } }),
    fileRead: new Task({ taskType: 'file_operation', payload: { operation: 'read', path: `${filesDir}/hello.txt` } })
  }
}

export async function runBuiltins (node: ClusterNode): Promise<Record<string, unknown>> {
  const filesDir = `${node.dataDir}/files`            // the default --allowed-paths
  const tasks = builtinTasks(filesDir)
  const out: Record<string, unknown> = {}
  for (const name of ['echo', 'sleep', 'systemInfo', 'pythonEval', 'fileWrite', 'fileRead']) {
    const id = await node.scheduler.submitTask(tasks[name])
    const rec = await node.scheduler.waitForResult(id, { timeoutMs: 30_000 })
    out[name] = rec.status === 'completed' ? rec.result : rec.error
    console.log(name, rec.status)
  }
  return out
}

runIfMain(import.meta.url, async () => {
  const node = await startDemoNode()
  try { console.log(await runBuiltins(node)) } finally { await node.stopAndClean() }
})
