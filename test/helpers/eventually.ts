// Bounded waiting for tests: poll `fn` until it returns without throwing (and, if it returns a
// boolean, returns true), or fail after timeoutMs with the last error. Never a bare sleep.

export interface EventuallyOptions {
  /** give up after this long. @default 5000 */
  timeoutMs?: number
  /** pause between tries. @default 20 */
  intervalMs?: number
  /** prefix for the timeout error */
  message?: string
}

export async function eventually<T> (fn: () => T | Promise<T>, opts: EventuallyOptions = {}): Promise<Exclude<T, false>> {
  const timeoutMs = opts.timeoutMs ?? 5000
  const intervalMs = opts.intervalMs ?? 20
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (let tries = 0; ; tries++) {
    try {
      const v = await fn()
      if (v !== false) return v as Exclude<T, false>
      lastError = new Error('condition returned false')
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? lastError.message : String(lastError)
      const err = new Error(`${opts.message ?? 'eventually'}: not true after ${timeoutMs} ms (${tries + 1} tries): ${why}`)
      err.cause = lastError
      throw err
    }
    await new Promise(resolve => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))))
  }
}

/** Resolves after ms (for tests that must let time pass, e.g. to show something does NOT happen). */
export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}
