// A program that does not run a node itself: it talks to one over the node's HTTP API with the
// package's ApiClient. Against your own node: `ApiClient.fromDataDir('~/.retire-cluster')` (the
// address and token `retire-cluster start` wrote there).
// Run: npx tsx examples/api-client.ts            (starts a throw-away node with its API on)
//      npx tsx examples/api-client.ts <data-dir> (talks to the node running there)
import { ApiClient } from '../src/index.js'
import { runIfMain, startDemoNode } from './_node.js'

export async function echoOverHttp (client: ApiClient, message: string): Promise<unknown> {
  const id = await client.submitTask({ task_type: 'echo', payload: { message } })
  const record = await client.waitTask(id)         // long-polls until the task is final
  console.log(record.status, record.result)        // completed { message: 'hi' }
  return record.result
}

/**
 * Many tasks, one submit each, all in flight on one connection (no HTTP request per task); their
 * outcomes come over one event stream opened before them.
 */
export async function squaresOverHttp (client: ApiClient, n: number): Promise<unknown[]> {
  const results = await client.openResults()
  const submissions = await client.openSubmissions()
  try {
    const ids = await Promise.all(Array.from({ length: n }, (_, i) => submissions.submit({ task_type: 'echo', payload: { square: i * i } })))
    const outcomes = await Promise.all(ids.map(id => results.wait(id)))
    return outcomes.map(o => o.result)           // [{ square: 0 }, { square: 1 }, { square: 4 }, ...]
  } finally {
    await submissions.close()
    results.close()
  }
}

runIfMain(import.meta.url, async () => {
  const dataDir = process.argv[2]
  const node = dataDir === undefined ? await startDemoNode({ api: { host: '127.0.0.1', port: 0 } }) : undefined
  const client = await ApiClient.fromDataDir(dataDir ?? node!.dataDir)
  try {
    await echoOverHttp(client, 'hi')
    console.log(await squaresOverHttp(client, 5))
  } finally {
    client.close()
    await node?.stopAndClean()
  }
})
