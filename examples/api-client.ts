// A program that does not run a node itself: it talks to one over the node's HTTP API with the
// package's ApiClient (the node's address and token are in its data dir, as `retire-cluster start`
// wrote them).
// Run: npx tsx examples/api-client.ts [data-dir]   (a node must be running there; default ~/.retire-cluster)
import { ApiClient } from '../src/index.js'
import { runIfMain } from './_node.js'

export async function echoOverHttp (client: ApiClient, message: string): Promise<unknown> {
  const id = await client.submitTask({ task_type: 'echo', payload: { message } })
  const record = await client.waitTask(id)         // long-polls until the task is final
  console.log(record.status, record.result)        // completed { message: 'hi' }
  return record.result
}

runIfMain(import.meta.url, async () => {
  const client = await ApiClient.fromDataDir(process.argv[2] ?? '~/.retire-cluster')
  await echoOverHttp(client, 'hi')
})
