// Framed request/response and one-way messages over libp2p streams: see framed.ts.
export { FramedChannel, type FramedChannelInit, type MessageHandler, type RequestOptions } from './framed.js'
export * from './errors.js'
