// "The grep of the repo shows each limit defined once" (issue 16), as a test: every cap in
// src/protocol/limits.ts is declared there only (others import or re-export it), every one carries
// a comment, and the pure layers declare no cap of their own with a bare number. A copy with
// another value is how a workflow of 1,500 steps passed src/sched (10,000) and was then refused by
// the entry decoder (1,000) on every node.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as LIMITS from '../../src/protocol/limits.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const LIMITS_FILE = 'src/protocol/limits.ts'

function sources (dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name)
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sources(rel))
    else if (rel.endsWith('.ts')) out.push(rel)
  }
  return out
}

/** Guards that are not caps on data (loop bounds, formatting), allowed in the pure layers. */
const NOT_LIMITS = new Set([
  'src/sched/state/chains.ts:MAX_FAILOVER_HOPS', // a bug guard on following replacedBy links (moved from state-machine.ts by the split)
  'src/sched/scheduler.ts:MAX_DEVICES_IN_REASON', // how many device names a pending reason lists
  'src/sched/ids.ts:MAX_TIME_MS' // the largest time a 48-bit id timestamp holds
])

describe('limits: one definition each', () => {
  const files = sources('src').map(f => ({ file: f, text: readFileSync(join(ROOT, f), 'utf8') }))
  const names = Object.keys(LIMITS)

  it('every limit is declared only in src/protocol/limits.ts, with a comment', () => {
    const limitsText = readFileSync(join(ROOT, LIMITS_FILE), 'utf8')
    for (const name of names) {
      assert.match(limitsText, new RegExp(`\\*/\\s*export const ${name} =`), `${name} has no comment in ${LIMITS_FILE}`)
      for (const { file, text } of files) {
        if (file === LIMITS_FILE) continue
        const decl = new RegExp(`\\b(const|let|var)\\s+${name}\\s*=`)
        assert.doesNotMatch(text, decl, `${name} is declared again in ${file}: import it from ${LIMITS_FILE}`)
      }
    }
  })

  it('src/sched and src/protocol declare no cap of their own with a bare number', () => {
    const offenders: string[] = []
    for (const { file, text } of files) {
      if (file === LIMITS_FILE || !(file.startsWith('src/sched/') || file.startsWith('src/protocol/'))) continue
      for (const m of text.matchAll(/\b(?:const|let)\s+((?:[A-Z_]*_)?(?:MAX|LIMIT|CAP)S?(?:_[A-Z_]+)?)\s*=\s*([0-9][0-9_]*)/g)) {
        if (!NOT_LIMITS.has(`${file}:${m[1]}`)) offenders.push(`${file}: ${m[1]} = ${m[2]}`)
      }
      // the named cap objects (TASK_LIMITS, REQUIREMENT_LIMITS) only point at limits.ts
      for (const m of text.matchAll(/export const ([A-Z_]*LIMITS) = \{([^}]*)\}/g)) {
        for (const v of m[2].matchAll(/^\s*(\w+):\s*([0-9][0-9_ *]*)\s*,?\s*$/gm)) offenders.push(`${file}: ${m[1]}.${v[1]} = ${v[2]}`)
      }
    }
    assert.deepEqual(offenders, [], `caps to move into ${LIMITS_FILE}:\n${offenders.join('\n')}`)
  })

  it('the sched caps are the decoder\'s caps (same numbers, so sched never accepts what the log refuses)', async () => {
    const { TASK_LIMITS } = await import('../../src/sched/task.js')
    const { REQUIREMENT_LIMITS } = await import('../../src/sched/requirements.js')
    const { MAX_WORKFLOW_STEPS } = await import('../../src/sched/workflow.js')
    const { MAX_BATCH_TASKS } = await import('../../src/sched/batch.js')
    const { MAX_TASKS_PER_SUBMIT, MAX_REMEMBERED_REQUESTS } = await import('../../src/sched/state-machine.js')
    assert.equal(TASK_LIMITS.maxPayloadBytes, LIMITS.MAX_TASK_PAYLOAD_BYTES)
    assert.equal(TASK_LIMITS.maxKeyLength, LIMITS.MAX_KEY_LENGTH)
    assert.equal(TASK_LIMITS.maxTaskTypeLength, LIMITS.MAX_TASK_TYPE_LENGTH)
    assert.equal(REQUIREMENT_LIMITS.maxExcludeDevices, LIMITS.MAX_EXCLUDE_DEVICES)
    assert.equal(REQUIREMENT_LIMITS.maxRetries, LIMITS.MAX_TASK_RETRIES)
    assert.equal(MAX_WORKFLOW_STEPS, LIMITS.MAX_WORKFLOW_STEPS)
    assert.equal(MAX_BATCH_TASKS, LIMITS.MAX_BATCH_TASKS)
    assert.equal(MAX_TASKS_PER_SUBMIT, LIMITS.MAX_BATCH_TASKS)
    assert.equal(MAX_REMEMBERED_REQUESTS, LIMITS.MAX_REMEMBERED_REQUESTS)
    assert.ok(LIMITS.ENTRY_FLUSH_COMMANDS <= LIMITS.MAX_COMMANDS_PER_ENTRY)
    assert.ok(LIMITS.ENTRY_PACK_TARGET_BYTES <= LIMITS.MAX_ENTRY_DATA_BYTES)
    assert.ok(LIMITS.MAX_TEMPLATE_TASKS <= LIMITS.MAX_BATCH_TASKS)
  })

  it('lists where it looked (sanity: the grep sees the tree)', () => {
    assert.ok(files.length > 50, relative(ROOT, ROOT) + String(files.length))
    assert.ok(names.length >= 30)
  })
})
