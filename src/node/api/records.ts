// Text streams cut into records: NDJSON lines (POST /v1/tasks/stream) and server-sent-event frames
// (GET /v1/events), on both sides of the API.

/** The complete records at the front of `buf` (each ended by `sep`), and the unfinished rest. */
export function cutRecords (buf: string, sep: string): { records: string[], rest: string } {
  const records = buf.split(sep)
  const rest = records.pop()!
  return { records, rest }
}

/**
 * One SSE frame's event name ('message' when unnamed) and JSON data; undefined for a comment-only
 * frame. Throws when the data is not a JSON object (`null`, a number): not a frame our node sends.
 */
export function parseSseFrame (frame: string): { event: string, data: Record<string, unknown> } | undefined {
  let event = 'message'
  let data = ''
  for (const line of frame.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7)
    else if (line.startsWith('data: ')) data += line.slice(6)
  }
  if (data === '') return undefined
  const parsed: unknown = JSON.parse(data)
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SyntaxError(`an event's data is not a JSON object: ${data.slice(0, 100)}`)
  return { event, data: parsed as Record<string, unknown> }
}
