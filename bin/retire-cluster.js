#!/usr/bin/env node
// Thin launcher. The installed package runs the bundle in dist/pkg (made by `npm pack`, see
// scripts/bundle.mjs); a checkout runs tsc's output in dist/src (`npm run build`).
import { existsSync } from 'node:fs'

const bundled = new URL('../dist/pkg/cli.js', import.meta.url)
await import(existsSync(bundled) ? bundled.href : '../dist/src/node/cli/main.js')
