// GET /v1/tasks/:id/wait for a task this node has not applied yet (submitted through another node):
// the route waits for it as waitForResult does (its 5 s to see the task applied here) instead of
// answering 404 at once. A fake node behind the real API server.
import assert from 'node:assert/strict'
import { startApiServer } from '../../src/node/api/server.js'
import { NotFoundError } from '../../src/node/errors.js'

const TOKEN = 't'.repeat(48)

describe('GET /v1/tasks/:id/wait', () => {
  it('a task not applied here yet is waited for, not 404; an unknown one is 404 after the wait', async () => {
    const record = { id: 'late', taskType: 'echo', status: 'completed', result: 1, attempts: [] }
    let appliedHere = false
    const node: any = {
      onEvent: () => () => {},
      scheduler: {
        getTaskStatus: async (id: string) => (appliedHere && id === 'late' ? record : undefined),
        waitForResult: async (id: string) => {
          await new Promise(resolve => setTimeout(resolve, 100)) // applied here meanwhile
          if (id !== 'late') throw new NotFoundError(`task ${id}`)
          appliedHere = true
          return record
        }
      }
    }
    const api = await startApiServer(node, { port: 0, token: TOKEN })
    try {
      const get = async (id: string): Promise<Response> => await fetch(`${api.url}/v1/tasks/${id}/wait?timeoutMs=2000`, { headers: { authorization: `Bearer ${TOKEN}` } })
      const r = await get('late')
      assert.equal(r.status, 200)
      assert.equal((await r.json()).id, 'late')
      assert.equal((await get('never')).status, 404)
    } finally { await api.close() }
  })
})
