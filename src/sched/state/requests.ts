// Replies remembered by requestId, so a retried submission gets the first answer again instead of
// running twice. Bounded by count and by the task ids the replies hold.

import { MAX_REMEMBERED_REQUEST_TASK_IDS, MAX_REMEMBERED_REQUESTS } from '../../protocol/limits.js'
import type { Reply, State } from './state.js'

/** Task ids a remembered reply holds (what MAX_REMEMBERED_REQUEST_TASK_IDS bounds). */
export function replyIds (r: Reply): number {
  return r.ok ? r.taskIds.length : 0
}

export function remember (s: State, requestId: string, reply: Reply): Reply {
  if (typeof requestId !== 'string' || requestId === '') return reply
  const prev = s.requests.get(requestId)
  if (prev !== undefined) { s.rememberedIds -= replyIds(prev); s.requests.delete(requestId) }
  s.requests.set(requestId, reply)
  s.rememberedIds += replyIds(reply)
  // bounded by count and by the task ids the replies hold (one big batch reply is 10,000 ids)
  while (s.requests.size > 1 && (s.requests.size > MAX_REMEMBERED_REQUESTS || s.rememberedIds > MAX_REMEMBERED_REQUEST_TASK_IDS)) {
    const [oldest, r] = s.requests.entries().next().value as [string, Reply]
    s.requests.delete(oldest)
    s.rememberedIds -= replyIds(r)
  }
  return reply
}
