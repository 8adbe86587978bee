// A Set that forgets its oldest members, cheaply. The evicted-id tombstones (state/evict.ts) used a
// plain Set and dropped the oldest with `set.values().next()`: V8 leaves a hole in the table per
// deleted entry until it rehashes, and iteration starts by walking past every hole, so at the cap
// (100,000) each drop cost up to a walk of tens of thousands of holes. Measured on a restart
// replaying 23 'evict' commands (~92,000 tasks): 1.0 of their 2.4 s went to that one line (issue 14).
// Here the insertion order lives in an array with a moving head, and the Set answers has().

export class FifoSet implements Iterable<string> {
  private readonly members = new Set<string>()
  /** members in insertion order from `head` on */
  private order: string[] = []
  private head = 0

  get size (): number { return this.members.size }

  has (id: string): boolean { return this.members.has(id) }

  /** Adds id as the newest member; re-adding a member keeps its place (as Set.add does). */
  add (id: string): void {
    if (this.members.has(id)) return
    this.members.add(id)
    this.order.push(id)
  }

  /** Removes and returns the oldest member. */
  shift (): string | undefined {
    if (this.head >= this.order.length) return undefined
    const id = this.order[this.head++]
    this.members.delete(id)
    // drop the consumed prefix once it is half the array: amortised O(1) per shift
    if (this.head > 1024 && this.head * 2 > this.order.length) { this.order = this.order.slice(this.head); this.head = 0 }
    return id
  }

  /** Oldest first. */
  * [Symbol.iterator] (): Iterator<string> {
    for (let i = this.head; i < this.order.length; i++) yield this.order[i]
  }
}
