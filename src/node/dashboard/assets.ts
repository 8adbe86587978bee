// The dashboard is three static files (index.html, app.js, style.css) served as they are: no build step.
// They sit next to this module in src/; a compiled copy under dist/ finds them back in src/.

import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface Asset { body: Buffer, contentType: string }

const FILES: Record<string, string> = {
  '/app.js': 'text/javascript; charset=utf-8',
  '/style.css': 'text/css; charset=utf-8',
  '/favicon.svg': 'image/svg+xml'
}

const TOKEN_PLACEHOLDER = '__RC_TOKEN__'

let cache: { dir: string, index: string, files: Map<string, Asset> } | undefined

function assetDir (): string {
  const here = fileURLToPath(new URL('.', import.meta.url))
  const candidates = [here, here.replace(/[\\/]dist[\\/]src[\\/]/, '/src/')]
  const dir = candidates.find(d => existsSync(join(d, 'index.html')))
  if (dir === undefined) throw new Error(`dashboard files not found (looked in ${candidates.join(', ')})`)
  return dir
}

function load (): NonNullable<typeof cache> {
  if (cache !== undefined) return cache
  const dir = assetDir()
  const files = new Map<string, Asset>()
  for (const [path, contentType] of Object.entries(FILES)) {
    files.set(path, { body: readFileSync(join(dir, path.slice(1))), contentType })
  }
  cache = { dir, index: readFileSync(join(dir, 'index.html'), 'utf8'), files }
  return cache
}

/** A static dashboard file (not index.html), or undefined. These hold no secrets. */
export function dashboardAsset (path: string): Asset | undefined {
  return FILES[path] === undefined ? undefined : load().files.get(path)
}

/** The page, with the API token the page's scripts will use ('' makes the page ask for one). */
export function dashboardPage (token: string): string {
  const safe = token.replace(/[^A-Za-z0-9_\-.~+/=]/g, '')
  return load().index.replace(TOKEN_PLACEHOLDER, safe)
}
