import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateClusterKey, parseClusterKey } from '../../src/node/host/cluster-key.js'
import { InvalidClusterKeyError, InvalidPeerKeyError } from '../../src/node/host/errors.js'
import { HostPool } from './host-fixtures.js'
import { eventually } from '../helpers/eventually.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('host: cluster key and identity (real libp2p on loopback)', function () {
  this.timeout(30_000)
  const pool = new HostPool()
  afterEach(async () => { await pool.stopAll() })

  it('generates and parses swarm keys; rejects malformed ones naming the problem', () => {
    const k = generateClusterKey()
    const text = new TextDecoder().decode(k)
    assert.match(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    assert.deepEqual(parseClusterKey(k), k)
    assert.notDeepEqual(generateClusterKey(), k)
    const crlf = new TextEncoder().encode(text.toUpperCase().replace('/KEY/SWARM/PSK/1.0.0/', '/key/swarm/psk/1.0.0/').replace('/BASE16/', '/base16/').replace(/\n/g, '\r\n'))
    assert.deepEqual(parseClusterKey(crlf), k)
    const bad = (s: string): Uint8Array => new TextEncoder().encode(s)
    assert.throws(() => parseClusterKey(bad('hello')), InvalidClusterKeyError)
    assert.throws(() => parseClusterKey(bad('/key/swarm/psk/1.0.0/\n/base64/\nabc')), /base16/)
    assert.throws(() => parseClusterKey(bad('/key/swarm/psk/1.0.0/\n/base16/\n' + 'ab'.repeat(31))), /64 hex/)
  })

  it('hosts with the same key connect; a different key or no key cannot', async () => {
    const key = generateClusterKey()
    const a = await pool.host({ clusterKey: key })
    const b = await pool.host({ clusterKey: key, bootstrap: [a.multiaddrs()[0]] })
    await eventually(() => b.connectedPeers().includes(a.peerId))

    const other = await pool.host({ clusterKey: generateClusterKey() })
    await assert.rejects(other.dial(a.multiaddrs()[0]))
    const keyless = await pool.host()
    await assert.rejects(keyless.dial(a.multiaddrs()[0]))
    await assert.rejects(a.dial(keyless.multiaddrs()[0]))
    // and their redial loops get nowhere either
    const intruder = await pool.host({ clusterKey: generateClusterKey(), bootstrap: [a.multiaddrs()[0]] })
    await sleep(800)
    for (const h of [other, keyless, intruder]) {
      assert.deepEqual(h.connectedPeers(), [])
      assert.ok(!a.connectedPeers().includes(h.peerId))
    }
    assert.deepEqual(a.connectedPeers(), [b.peerId])
  })

  it('refuses a malformed cluster key before starting anything', async () => {
    await assert.rejects(pool.host({ clusterKey: new TextEncoder().encode('nope') }), InvalidClusterKeyError)
  })

  it('persists the peer id across restarts in <dataDir>/peer-key', async () => {
    const dir = pool.dataDir()
    const a = await pool.host({ dataDir: dir })
    const id = a.peerId
    const keyBytes = readFileSync(join(dir, 'peer-key'))
    await a.stop()
    const again = await pool.host({ dataDir: dir })
    assert.equal(again.peerId, id)
    assert.deepEqual(readFileSync(join(dir, 'peer-key')), keyBytes)
    const fresh = await pool.host()
    assert.notEqual(fresh.peerId, id)

    const broken = pool.dataDir()
    writeFileSync(join(broken, 'peer-key'), 'garbage')
    await assert.rejects(pool.host({ dataDir: broken }), InvalidPeerKeyError)
  })
})
