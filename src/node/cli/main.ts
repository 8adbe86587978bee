#!/usr/bin/env node
// Entry of the `retire-cluster` binary (bin/retire-cluster.js imports the compiled copy).
import '../polyfills.js'
import { runCli } from './program.js'

process.exitCode = await runCli(process.argv)
