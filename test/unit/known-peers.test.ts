// KnownPeers (src/node/host/known-peers.ts): the members a node met, kept across restarts.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KnownPeers, KNOWN_PEERS_FILE } from '../../src/node/host/known-peers.js'

const DAY = 24 * 3_600_000

describe('KnownPeers (peers.json)', () => {
  let dir = ''
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'rc-known-')) })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('remembers a member and its addresses across a restart', () => {
    const a = new KnownPeers({ dataDir: dir }, 1000)
    a.remember('peerA', ['/ip4/10.0.0.2/tcp/4001', '/ip4/127.0.0.1/tcp/4001'], 1000)
    const b = new KnownPeers({ dataDir: dir }, 2000)
    assert.deepEqual(b.list(), [{ id: 'peerA', addrs: ['/ip4/10.0.0.2/tcp/4001', '/ip4/127.0.0.1/tcp/4001'], seenAt: 1000 }])
  })

  it('takes new addresses at once, rewrites unchanged ones only after refreshMs', () => {
    const k = new KnownPeers({ dataDir: dir, refreshMs: 1000 }, 0)
    const file = join(dir, KNOWN_PEERS_FILE)
    k.remember('p', ['/ip4/10.0.0.2/tcp/1'], 0)
    const first = readFileSync(file, 'utf8')
    k.remember('p', ['/ip4/10.0.0.2/tcp/1'], 500) // same, recent: no write
    assert.equal(readFileSync(file, 'utf8'), first)
    k.remember('p', ['/ip4/10.0.0.2/tcp/2'], 600) // moved: written
    assert.deepEqual(new KnownPeers({ dataDir: dir }, 700).list()[0]!.addrs, ['/ip4/10.0.0.2/tcp/2'])
    k.remember('p', ['/ip4/10.0.0.2/tcp/2'], 1700) // same, but old: seenAt refreshed
    assert.equal(new KnownPeers({ dataDir: dir }, 1800).list()[0]!.seenAt, 1700)
  })

  it('forgets members not seen for maxAgeMs, and keeps the most recent maxPeers', () => {
    const k = new KnownPeers({ dataDir: dir, maxPeers: 3 }, 0)
    for (let i = 0; i < 5; i++) k.remember(`p${i}`, [`/ip4/10.0.0.${i}/tcp/1`], i * DAY)
    assert.deepEqual(k.list().map(p => p.id), ['p2', 'p3', 'p4'])
    const later = new KnownPeers({ dataDir: dir, maxAgeMs: 7 * DAY }, 10 * DAY)
    assert.deepEqual(later.list().map(p => p.id), ['p3', 'p4'], 'p2 last seen 8 days ago')
  })

  it('a damaged file or damaged entries count as none and do not stop the node', () => {
    writeFileSync(join(dir, KNOWN_PEERS_FILE), '{not json')
    assert.deepEqual(new KnownPeers({ dataDir: dir }, 0).list(), [])
    writeFileSync(join(dir, KNOWN_PEERS_FILE), JSON.stringify({ version: 1, peers: [{ id: 'ok', addrs: ['/ip4/1.2.3.4/tcp/1'], seenAt: 0 }, { id: 5 }, { id: 'x', addrs: [], seenAt: 0 }, null] }))
    assert.deepEqual(new KnownPeers({ dataDir: dir }, 0).list().map(p => p.id), ['ok'])
  })

  it('an empty address list is not remembered; a missing data dir only costs the hint', () => {
    const k = new KnownPeers({ dataDir: dir }, 0)
    k.remember('p', [], 0)
    assert.equal(k.list().length, 0)
    const gone = new KnownPeers({ dataDir: join(dir, 'missing') }, 0)
    gone.remember('p', ['/ip4/1.2.3.4/tcp/1'], 0)
    assert.equal(gone.list().length, 1)
    assert.throws(() => statSync(join(dir, 'missing')))
  })
})
