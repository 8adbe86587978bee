#!/usr/bin/env node
// Entry of the `retire-cluster` binary (bin/retire-cluster.js imports the compiled copy).
import '../polyfills.js'
import { runCli } from './program.js'

// `retire-cluster tasks | head`: a closed pipe ends the output quietly, not with a stack trace
process.stdout.on('error', err => { if ((err as NodeJS.ErrnoException).code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw err })

process.exitCode = await runCli(process.argv)
