// The TypeScript client's transport (node:http with a keep-alive agent), against a real HTTP server
// on loopback: connections are reused, errors keep their shape, a closed kept-alive socket is not
// an error for a GET, and a POST is never sent twice.
import { strict as assert } from 'node:assert'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiClient, ApiClientError } from '../../src/node/api/client.js'
import * as pkg from '../../src/index.js'

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

async function serve (handler: Handler): Promise<{ server: Server, url: string, connections: Socket[] }> {
  const connections: Socket[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => { body += c })
    req.on('end', () => { handler(req, res, body) })
  })
  server.on('connection', s => { connections.push(s) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections }
}

function json (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

describe('ApiClient transport', () => {
  const servers: Server[] = []
  const clients: ApiClient[] = []
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close()
    for (const s of servers.splice(0)) { s.closeAllConnections(); await new Promise(resolve => s.close(resolve)) }
  })
  const client = (url: string, timeoutMs?: number): ApiClient => { const c = new ApiClient({ url, token: 't0k', timeoutMs }); clients.push(c); return c }

  it('sends the token and the JSON body, and reuses one connection for sequential requests', async () => {
    const seen: Array<{ auth?: string, type?: string, body: string, path?: string }> = []
    const s = await serve((req, res, body) => { seen.push({ auth: req.headers.authorization, type: req.headers['content-type'], body, path: req.url }); json(res, 201, { id: `t${seen.length}` }) })
    servers.push(s.server)
    const c = client(s.url + '/')
    for (let i = 0; i < 20; i++) assert.equal(await c.submitTask({ task_type: 'echo', payload: { i } }), `t${i + 1}`)
    assert.equal(s.connections.length, 1, 'one kept-alive connection for 20 requests')
    assert.deepEqual(seen[3], { auth: 'Bearer t0k', type: 'application/json', body: JSON.stringify({ task_type: 'echo', payload: { i: 3 } }), path: '/v1/tasks' })
  })

  it('turns an error answer into ApiClientError with the server\'s type, and call() returns it as it came', async () => {
    const s = await serve((_req, res) => { json(res, 409, { error: { type: 'conflict', message: 'already there', field: 'id' } }) })
    servers.push(s.server)
    const c = client(s.url)
    await assert.rejects(c.getTask('x'), (e: unknown) => e instanceof ApiClientError && e.status === 409 && e.type === 'conflict' && e.message === 'already there' && e.field === 'id')
    assert.deepEqual(await c.call('GET', '/v1/tasks/x'), { status: 409, body: { error: { type: 'conflict', message: 'already there', field: 'id' } } })
  })

  it('an answer that is not JSON still gives a typed error', async () => {
    const s = await serve((_req, res) => { res.writeHead(502); res.end('bad gateway') })
    servers.push(s.server)
    await assert.rejects(client(s.url).queue(), (e: unknown) => e instanceof ApiClientError && e.status === 502 && e.type === 'http_502')
  })

  it('a node that does not answer in time, or is not there, is status 0 "unreachable"', async () => {
    const s = await serve(() => { /* never answers */ })
    servers.push(s.server)
    await assert.rejects(client(s.url, 200).queue(), (e: unknown) => e instanceof ApiClientError && e.status === 0 && e.type === 'unreachable' && /timed out/.test(e.message))
    // an answer that starts and never ends (on a kept-alive socket) is a timeout too, and the GET is
    // not sent again after it
    let gets = 0
    const slow = await serve((_req, res) => {
      if (++gets === 1) { json(res, 200, { ok: true }); return }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 }); res.write('{"partial":')
    })
    servers.push(slow.server)
    const c = client(slow.url, 200)
    await c.queue()
    await assert.rejects(c.queue(), (e: unknown) => e instanceof ApiClientError && e.status === 0 && /timed out/.test(e.message))
    assert.equal(gets, 2)
    const port = (s.server.address() as AddressInfo).port
    s.server.closeAllConnections()
    await new Promise(resolve => s.server.close(resolve))
    servers.splice(servers.indexOf(s.server), 1)
    await assert.rejects(client(`http://127.0.0.1:${port}`).queue(), (e: unknown) => e instanceof ApiClientError && e.status === 0 && /connection refused/.test(e.message))
  })

  it('a GET that meets a kept-alive socket dropped by the server is sent again; a POST is not sent twice', async () => {
    // The server answers the first request of a connection and drops the connection at the second
    // (as a node does that stops, or closes an idle socket just as a request arrives): every
    // request after the first meets a reused socket that dies under it.
    const perSocket = new Map<Socket, number>()
    const arrived: string[] = []
    const s = await serve((req, res) => {
      arrived.push(req.method!)
      const n = (perSocket.get(req.socket) ?? 0) + 1
      perSocket.set(req.socket, n)
      if (n > 1) { req.socket.destroy(); return }
      json(res, 200, { ok: true })
    })
    servers.push(s.server)
    const c = client(s.url)
    for (let i = 0; i < 5; i++) assert.deepEqual(await c.request('GET', '/v1/queue'), { ok: true })
    assert.deepEqual(arrived, ['GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'GET'], 'the 4 GETs after the first were each sent twice')
    arrived.length = 0
    await assert.rejects(c.request('POST', '/v1/tasks', { i: 1 }), (e: unknown) => e instanceof ApiClientError && e.status === 0 && e.type === 'unreachable')
    assert.deepEqual(arrived, ['POST'], 'a POST whose connection died is reported, not sent again')
  })

  it('is the package\'s client: fromDataDir reads the address and token a node wrote, ~/ is the home directory', async () => {
    assert.equal(pkg.ApiClient, ApiClient)
    const home = mkdtempSync(join(tmpdir(), 'rc-client-home-'))
    const oldHome = process.env.HOME
    try {
      const s = await serve((req, res) => { json(res, 200, { auth: req.headers.authorization }) })
      servers.push(s.server)
      const dir = join(home, '.retire-cluster')
      mkdirSync(dir)
      writeFileSync(join(dir, 'node.json'), JSON.stringify({ apiUrl: s.url }))
      writeFileSync(join(dir, 'api-token'), 'sekret\n')
      process.env.HOME = home
      const c = await ApiClient.fromDataDir('~/.retire-cluster')
      clients.push(c)
      assert.equal(c.url, s.url)
      assert.deepEqual(await c.request('GET', '/v1/status'), { auth: 'Bearer sekret' })
    } finally {
      process.env.HOME = oldHome
      rmSync(home, { recursive: true, force: true })
    }
  })
})
