// Task ids: ULID layout (https://github.com/ulid/spec) — 10 Crockford base32 chars of millisecond
// time, then 16 chars (80 bits) of randomness. Ids made later sort later as strings, so listing
// tasks by id is listing them by creation time. Time and randomness are injected.

import type { Rng } from './rng.js'

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const TIME_LEN = 10
const RAND_LEN = 16
export const TASK_ID_LENGTH = TIME_LEN + RAND_LEN
/** 2^48 - 1: the largest time a ULID can hold (year 10889). */
const MAX_TIME_MS = 281474976710655
const ID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/

function encodeTime (nowMs: number): string {
  if (!Number.isInteger(nowMs) || nowMs < 0 || nowMs > MAX_TIME_MS) {
    throw new RangeError(`id time must be an integer ms in [0, 2^48), got ${nowMs}`)
  }
  let out = ''
  let t = nowMs
  for (let i = 0; i < TIME_LEN; i++) {
    out = ALPHABET[t % 32] + out
    t = Math.floor(t / 32)
  }
  return out
}

function randomChars (rng: Rng): string {
  let out = ''
  for (let i = 0; i < RAND_LEN; i++) out += ALPHABET[Math.floor(rng() * 32) & 31]
  return out
}

/** A fresh 26-char id for time `nowMs` (integer ms since epoch). */
export function newTaskId (nowMs: number, rng: Rng): string {
  return encodeTime(Math.floor(nowMs)) + randomChars(rng)
}

/** True for a well-formed 26-char Crockford base32 id (upper case, as we emit them). */
export function isValidTaskId (id: unknown): id is string {
  return typeof id === 'string' && ID_RE.test(id)
}

/** The creation time (ms) encoded in an id. */
export function taskIdTimeMs (id: string): number {
  let t = 0
  for (let i = 0; i < TIME_LEN; i++) t = t * 32 + ALPHABET.indexOf(id[i])
  return t
}

/** Increment a base32 string by one (carry leftwards); undefined on overflow. */
function incrementBase32 (s: string): string | undefined {
  const chars = s.split('')
  for (let i = chars.length - 1; i >= 0; i--) {
    const v = ALPHABET.indexOf(chars[i])
    if (v < 31) {
      chars[i] = ALPHABET[v + 1]
      return chars.join('')
    }
    chars[i] = '0'
  }
  return undefined
}

/**
 * A generator whose ids strictly increase even within one millisecond or if the clock steps back
 * (ULID "monotonic" mode): a repeated or earlier time reuses the last time part and increments
 * the random part. Stateful, so one per process (src/node owns it).
 */
export function monotonicTaskIds (clock: () => number, rng: Rng): () => string {
  let lastTime = -1
  let lastRand = ''
  return () => {
    const now = Math.floor(clock())
    if (now > lastTime) {
      lastTime = now
      lastRand = randomChars(rng)
    } else {
      const next = incrementBase32(lastRand)
      if (next === undefined) { // 2^80 ids in one ms: move to the next ms instead
        lastTime += 1
        lastRand = randomChars(rng)
      } else {
        lastRand = next
      }
    }
    return encodeTime(lastTime) + lastRand
  }
}
