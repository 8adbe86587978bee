// libp2p 2.x and its dependencies (peer-store, mortice, it-queue) call Promise.withResolvers,
// which Node gained in 22. Node 20 is our floor, so install a guarded shim before libp2p loads.
// Where the runtime has it, this is a no-op.
const P = Promise as unknown as { withResolvers?: unknown }
if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> () {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}
export {}
