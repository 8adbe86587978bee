#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/src/node/cli (built by `npm run build`).
import '../dist/src/node/cli/main.js'
