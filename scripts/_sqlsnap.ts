import { performance } from 'node:perf_hooks'
import { SqliteStorage } from '../src/node/raft/sqlite-storage.js'
import { rmSync, mkdirSync } from 'node:fs'
rmSync('/tmp/s15/db', { recursive: true, force: true }); mkdirSync('/tmp/s15/db', { recursive: true })
const st = new SqliteStorage('/tmp/s15/db/raft.db', { deferredSync: true, conf: { voters: ['a'], learners: [] } })
let idx = st.lastIndex()
for (let r = 0; r < 4; r++) {
  const ents = []
  for (let i = 0; i < 100; i++) ents.push({ index: ++idx, term: 1, type: 'normal', data: new Uint8Array(1000) })
  st.save({ entries: ents as any, hardState: { term: 1, vote: 'a', commit: idx } })
  const data = new Uint8Array(Number(process.argv[2] ?? 50e6)); for (let i = 0; i < data.length; i += 97) data[i] = i & 255
  const t = performance.now()
  st.createSnapshot(idx, { voters: ['a'], learners: [] }, data)
  const t1 = performance.now()
  st.compact(idx - 10)
  const t2 = performance.now()
  await st.flush()
  console.log(JSON.stringify({ create: t1 - t, compact: t2 - t1, flush: performance.now() - t2 }))
}
