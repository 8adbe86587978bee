// The published package runs from one bundle (issue 17): tsc's dist/src plus every pure-JavaScript
// dependency (libp2p, gossipsub, noise, yamux, msgpackr, commander, yaml, ...) in dist/pkg, so an
// install is better-sqlite3 (native, kept as the only dependency) and this package: ~150 packages and
// ~45 MB of node_modules fewer, and a node loads one file graph of ten modules instead of ~900.
//
//   node scripts/bundle.mjs [dir] [--node-modules <path>]   writes <dir>/dist/pkg from <dir>/dist/src
//   node scripts/bundle.mjs [dir] --clean                    removes <dir>/dist/pkg
//
// `npm pack` runs it (prepack) and removes the bundle again (postpack), so a checkout keeps running
// tsc's output; bin/retire-cluster.js prefers dist/pkg where it exists (the installed package).
// Layout inside dist/pkg, which the code relies on:
//   index.js        the library (package.json "exports")
//   cli.js          the CLI (bin/retire-cluster.js)
//   child-entry.js  the sandboxed task child; child-pool.ts finds it next to itself, and every shared
//                   chunk (where child-pool lands) sits at the top of dist/pkg too
//   index.html ...  the dashboard's static files; dashboard/assets.ts reads them next to itself
import { copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'

const args = process.argv.slice(2)
const clean = args.includes('--clean')
const nmAt = args.indexOf('--node-modules')
const nodeModules = nmAt >= 0 ? resolve(args[nmAt + 1]) : undefined
const dir = resolve(args.find((a, i) => !a.startsWith('--') && i !== nmAt + 1) ?? '.')
const out = join(dir, 'dist/pkg')

rmSync(out, { recursive: true, force: true })
if (clean) process.exit(0)

const src = join(dir, 'dist/src')
if (!existsSync(join(src, 'index.js'))) {
  console.error(`bundle: ${src}/index.js missing: run \`npm run build\` first`)
  process.exit(1)
}

const { build } = await import('esbuild') // only when bundling: `npm run build` cleans without it
await build({
  entryPoints: [
    { in: join(src, 'index.js'), out: 'index' },
    { in: join(src, 'node/cli/main.js'), out: 'cli' },
    { in: join(src, 'node/executor/child-entry.js'), out: 'child-entry' }
  ],
  outdir: out,
  bundle: true,
  splitting: true, // one copy of each module shared by the entries (one id source, one registry)
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // native: resolved at run time from the installer's node_modules. msgpackr-extract is msgpackr's
  // optional native string decoder: msgpackr falls back to JavaScript without it (see docs/install.md)
  external: ['better-sqlite3', 'msgpackr-extract'],
  // the CommonJS modules among the dependencies (multicast-dns, ...) call require() for Node built-ins
  banner: { js: "import { createRequire as __rcRequire } from 'node:module'; const require = __rcRequire(import.meta.url);" },
  chunkNames: 'chunk-[hash]',
  legalComments: 'linked',
  nodePaths: nodeModules === undefined ? [] : [nodeModules],
  logLevel: 'warning'
})

const dashboard = join(dir, 'src/node/dashboard')
for (const f of readdirSync(dashboard)) if (!f.endsWith('.ts')) copyFileSync(join(dashboard, f), join(out, f))
