// Encoding of a ConfChange inside a 'conf' log entry, and validation of its fields.
// JSON over UTF-8: tiny, rare entries, and readable when inspecting a log.
import type { ConfChange, ConfChangeType } from './types.js'
import { RaftInputError } from './errors.js'

const TYPES: ReadonlySet<string> = new Set<ConfChangeType>(['addVoter', 'addLearner', 'removeNode'])
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function validateConfChange (cc: ConfChange): void {
  if (cc === null || typeof cc !== 'object') throw new RaftInputError('confChange', 'not an object')
  if (!TYPES.has(cc.type)) throw new RaftInputError('confChange.type', `unknown type ${String(cc.type)}`)
  if (typeof cc.nodeId !== 'string' || cc.nodeId.length === 0) throw new RaftInputError('confChange.nodeId', 'must be a non-empty string')
}

export function encodeConfChange (cc: ConfChange): Uint8Array {
  validateConfChange(cc)
  return encoder.encode(JSON.stringify({ type: cc.type, nodeId: cc.nodeId }))
}

export function decodeConfChange (data: Uint8Array): ConfChange {
  let v: unknown
  try { v = JSON.parse(decoder.decode(data)) } catch { throw new RaftInputError('confChange', 'entry data is not valid JSON') }
  const cc = v as ConfChange
  validateConfChange(cc)
  return cc
}
