// The HTTP status of the node's own errors: what a client may retry must be a 503, not a 500.
import assert from 'node:assert/strict'
import { toErrorResponse } from '../../src/node/api/errors.js'
import { NodeError, NodeStoppedError } from '../../src/node/errors.js'

describe('API error status', () => {
  it('a leader unreachable for the write\'s whole time, and a stopping node, are 503 (retry), not 500', () => {
    assert.equal(toErrorResponse(new NodeError('network_error', 'no answer from the leader')).status, 503)
    assert.equal(toErrorResponse(new NodeStoppedError()).status, 503)
    assert.equal(toErrorResponse(new NodeError('no_leader', 'none')).status, 503)
    assert.equal(toErrorResponse(new Error('a bug')).status, 500)
  })
})
