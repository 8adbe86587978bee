// Reading task, batch and workflow files (JSON or YAML) and `@file` arguments.

import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { UsageError } from './errors.js'
import { MSG } from './messages.js'

/** Largest input file we read: a big batch fits, a mistaken multi-GB file does not. */
const MAX_FILE_BYTES = 16 * 1024 * 1024

export async function readDataFile (path: string): Promise<unknown> {
  let text: string
  try {
    const buf = await readFile(path)
    if (buf.length > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`)
    text = buf.toString('utf8')
  } catch (err) {
    throw new UsageError(MSG.errReadFile(path, (err as Error).message))
  }
  try {
    // YAML is a superset of JSON, so one parser reads both.
    return parseYaml(text)
  } catch (err) {
    throw new UsageError(MSG.errParseFile(path, (err as Error).message.split('\n')[0]))
  }
}

/** A JSON argument, or `@path` to read it (JSON or YAML) from a file. */
export async function jsonArg (value: string, what: string): Promise<unknown> {
  if (value.startsWith('@')) return await readDataFile(value.slice(1))
  try {
    return JSON.parse(value)
  } catch (err) {
    throw new UsageError(MSG.errJson(what, (err as Error).message))
  }
}

export function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}
