// The HTTP API's public surface: the server the node starts and the client the CLI and tests use.
export { startApiServer } from './server.js'
export type { ApiServer, ApiServerOptions, ApiLogger } from './server.js'
export { ApiClient, ApiClientError } from './client.js'
export type { ApiClientOptions } from './client.js'
