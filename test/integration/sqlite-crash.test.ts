// SqliteStorage under SIGKILL: a real child process (test/fixtures/sqlite-writer.ts) appends
// batches and prints each committed index after save() returns; we kill it at seeded random
// moments, reopen the file, and check that every printed index is there with intact data, no entry
// is torn, the log is contiguous, and the hard state is at least as new as the last print.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SqliteStorage } from '../../src/node/raft/sqlite-storage.js'
import { checkEntryData } from '../fixtures/sqlite-writer.js'
import { mulberry32 } from '../../src/sched/rng.js'

const here = dirname(fileURLToPath(import.meta.url))
const writer = join(here, '../fixtures/sqlite-writer.ts')
const repoRoot = join(here, '../..')


/**
 * Run the writer until it has printed `minLines` indexes, then `extraMs` more, then SIGKILL it.
 * Resolves with the last index it printed (complete lines only).
 */
function runAndKill (db: string, seed: number, minLines: number, extraMs: number, timeoutMs: number): Promise<{ lastPrinted: number, lines: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, db, String(seed)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let buf = ''
    let lines = 0
    let lastPrinted = 0
    let stderr = ''
    let killTimer: NodeJS.Timeout | undefined
    const deadline = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`writer did not reach ${minLines} lines in ${timeoutMs} ms (got ${lines}); stderr: ${stderr}`)) }, timeoutMs)
    child.stderr.on('data', d => { stderr += String(d) })
    child.stdout.on('data', d => {
      buf += String(d)
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const n = Number(buf.slice(0, nl))
        buf = buf.slice(nl + 1)
        assert.ok(n > lastPrinted, `printed indexes must grow: ${n} after ${lastPrinted}`)
        lastPrinted = n
        lines++
      }
      if (lines >= minLines && killTimer === undefined) killTimer = setTimeout(() => child.kill('SIGKILL'), extraMs)
    })
    child.on('exit', (code, signal) => {
      clearTimeout(deadline)
      if (killTimer !== undefined) clearTimeout(killTimer)
      if (signal !== 'SIGKILL') { reject(new Error(`writer exited ${code} ${signal}: ${stderr}`)); return }
      resolve({ lastPrinted, lines })
    })
  })
}

/** Reopen and check the whole file. Returns the last index. */
function verify (db: string, lastPrinted: number): { last: number, snapIndex: number } {
  const s = new SqliteStorage(db)
  try {
    const first = s.firstIndex()
    const last = s.lastIndex()
    const snapIndex = s.snapshot().meta.index
    assert.ok(last >= lastPrinted, `lastIndex ${last} < last printed ${lastPrinted}: an acknowledged save was lost`)
    assert.ok(first - 1 <= snapIndex, `log starts at ${first} but the snapshot is at ${snapIndex}: a gap`)
    const hs = s.initialState().hardState
    assert.ok(hs.commit >= lastPrinted && hs.commit <= last, `hard state commit ${hs.commit} outside [${lastPrinted}, ${last}]`)
    // every entry present, contiguous, intact (read in pages to bound memory)
    let expect = first
    while (expect <= last) {
      const page = s.entries(expect, Math.min(last + 1, expect + 500))
      for (const e of page) {
        assert.equal(e.index, expect, 'log is not contiguous')
        assert.ok(checkEntryData(e.data, e.index, e.term), `entry ${e.index} is torn or corrupt`)
        assert.equal(s.term(e.index), e.term)
        expect++
      }
    }
    // index 1 is the bootstrap snapshot (empty data); later ones are the writer's checksummed snapshots
    if (snapIndex > 1) assert.ok(checkEntryData(s.snapshot().data, snapIndex, s.snapshot().meta.term), 'snapshot data corrupt')
    // a snapshot file no row names (killed between the file and its row, or before the replaced one was removed) is gone
    const files = readdirSync(dirname(db)).filter(n => n.startsWith(`${basename(db)}.snap-`))
    assert.ok(files.length <= 1, `snapshot files left: ${files.join(', ')}`)
    return { last, snapIndex }
  } finally {
    s.close()
  }
}

describe('SqliteStorage survives SIGKILL (real child process)', function () {
  this.timeout(60_000)
  let dir: string
  before(() => { dir = mkdtempSync(join(tmpdir(), 'rc-sqlite-crash-')) })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('every printed index is present and intact after each of several kills (seed 1234)', async () => {
    const rng = mulberry32(1234)
    const db = join(dir, 'raft.db')
    let prevLast = 0
    let kills = 0
    let sawCompaction = false
    const t0 = Date.now()
    for (let round = 0; round < 6 && Date.now() - t0 < 40_000; round++) {
      const minLines = 1 + Math.floor(rng() * 30)
      const extraMs = Math.floor(rng() * 250)
      const { lastPrinted, lines } = await runAndKill(db, 1000 + round, minLines, extraMs, 20_000)
      kills++
      assert.ok(lines >= minLines)
      const { last, snapIndex } = verify(db, lastPrinted)
      assert.ok(last >= prevLast, 'the log went backwards across a restart')
      if (snapIndex > 1) sawCompaction = true
      prevLast = last
    }
    assert.ok(kills >= 3, `only ${kills} rounds ran in the time bound`)
    assert.ok(prevLast > 100, `the writer made too little progress (${prevLast})`)
    // informative, not a requirement: compaction is reached once > 40 batches ran in one round
    if (!sawCompaction) console.log('      (no snapshot/compaction happened in these rounds)')
    console.log(`      ${kills} kills, last index ${prevLast}, ${Date.now() - t0} ms`)
  })
})
