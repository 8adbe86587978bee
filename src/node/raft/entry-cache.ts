// The newest log entries, kept in memory as they were written. Almost every read of the log is of
// its tail: the leader sending appends to followers that keep up, and every node applying what was
// just committed. Serving those from here saves a sqlite read and a buffer copy per entry, and hands
// the applier the very bytes the leader encoded (so it can reuse their decoding, see ClusterCore).
import type { Entry } from '../../protocol/raft/types.js'

/** entries kept at most; older ones are read from sqlite */
const MAX_CACHED_ENTRIES = 4096
/** bytes of entry data kept at most (an entry may be megabytes: a big batch) */
const MAX_CACHED_BYTES = 16 * 1024 * 1024

export class EntryTailCache {
  /** entries [start, start + items.length - head), contiguous by index; items before head are dropped */
  private items: Entry[] = []
  private head = 0
  private start = 1
  private bytes = 0

  /** Entries [lo, hi) up to maxBytes (at least one), or undefined when the cache does not hold them all. */
  range (lo: number, hi: number, maxBytes: number): Entry[] | undefined {
    const n = this.items.length - this.head
    if (lo < this.start || hi > this.start + n || lo >= hi) return undefined
    const out: Entry[] = []
    let size = 0
    for (let i = lo; i < hi; i++) {
      const e = this.items[this.head + i - this.start]
      size += e.data.byteLength
      if (out.length > 0 && size > maxBytes) break
      out.push(e)
    }
    return out
  }

  /** e follows the last cached entry (or starts a new run after a gap, a snapshot or a clear) */
  append (e: Entry): void {
    if (e.index !== this.start + this.items.length - this.head) this.reset(e.index)
    this.items.push(e)
    this.bytes += e.data.byteLength
    while (this.items.length - this.head > MAX_CACHED_ENTRIES || (this.bytes > MAX_CACHED_BYTES && this.items.length - this.head > 1)) this.dropOldest()
    if (this.head > 1024 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0 }
  }

  /** the log was cut from `index` on (a conflicting suffix replaced) */
  truncateFrom (index: number): void {
    const n = this.items.length - this.head
    if (index >= this.start + n) return
    if (index <= this.start) { this.reset(index); return }
    const keep = index - this.start
    for (let i = this.head + keep; i < this.items.length; i++) this.bytes -= this.items[i].data.byteLength
    this.items.length = this.head + keep
  }

  /** entries up to `index` were compacted away */
  compactTo (index: number): void {
    while (this.items.length > this.head && this.start <= index) this.dropOldest()
    if (this.items.length === this.head && this.start <= index) this.reset(index + 1)
  }

  clear (): void { this.reset(1) }

  private dropOldest (): void {
    this.bytes -= this.items[this.head].data.byteLength
    this.head++
    this.start++
  }

  private reset (start: number): void {
    this.items = []
    this.head = 0
    this.start = start
    this.bytes = 0
  }
}
