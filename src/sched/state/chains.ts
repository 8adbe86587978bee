// Failover chains: a task failed over (device down) or handed off (drain) is replaced by a clone;
// `replacedBy` links the original to its clone, `replaces` the clone to its original. The walks
// along these links are bounded: a chain longer than MAX_FAILOVER_HOPS is a bug, not data.

import type { TaskRecord } from '../commands.js'
import type { State } from './state.js'

/** Guard on following replacedBy links (a task failed over more often than this is a bug). */
const MAX_FAILOVER_HOPS = 1_000

/** The task that carries id's work now: follows replacedBy links (itself if never failed over). */
export function latestOf (s: State, id: string): TaskRecord | undefined {
  let rec = s.tasks.get(id)
  for (let hops = 0; rec?.replacedBy !== undefined && hops < MAX_FAILOVER_HOPS; hops++) {
    const next = s.tasks.get(rec.replacedBy)
    if (next === undefined) break
    rec = next
  }
  return rec
}

/** True when `current` is `first` or reached from it by replaces-links (a step failed over). */
export function chainHas (s: State, current: string, first: string | undefined): boolean {
  let r = s.tasks.get(current)
  for (let hops = 0; r !== undefined && hops < MAX_FAILOVER_HOPS; hops++) {
    if (r.id === first) return true
    r = r.replaces === undefined ? undefined : s.tasks.get(r.replaces)
  }
  return false
}

/** Appends rec's whole failover chain (originals and clones, oldest first) to out. */
export function chainOf (s: State, rec: TaskRecord, out: TaskRecord[]): void {
  let root = rec
  for (let hops = 0; root.replaces !== undefined && hops < MAX_FAILOVER_HOPS; hops++) {
    const prev = s.tasks.get(root.replaces)
    if (prev === undefined) break
    root = prev
  }
  let cur: TaskRecord | undefined = root
  for (let hops = 0; cur !== undefined && hops < MAX_FAILOVER_HOPS; hops++) {
    out.push(cur)
    cur = cur.replacedBy === undefined ? undefined : s.tasks.get(cur.replacedBy)
  }
}
