import { constants, type Stats } from 'node:fs'
import { open, readdir, stat, lstat, rm, mkdir } from 'node:fs/promises'
import { BaseTaskHandler } from '../registry.js'
import type { HandlerContext } from '../context.js'
import type { Permission } from '../../../sched/types.js'
import { asObject, bool, oneOf, str } from '../payload.js'
import { InvalidPayloadError, PermissionDeniedError, ResourceExhaustedError, TaskFailure } from '../errors.js'
import { confine, resolveReal } from '../paths.js'

const OPERATIONS = ['read', 'write', 'append', 'list', 'stat', 'delete', 'mkdir'] as const
type Operation = typeof OPERATIONS[number]
const WRITES: ReadonlySet<string> = new Set(['write', 'append', 'delete', 'mkdir'])
/** entries returned by list */
const MAX_LIST = 10_000

interface FilePayload { operation: Operation, path: string, content?: string, encoding?: 'utf8' | 'base64', recursive?: boolean }

/**
 * read, write, append, list, stat, delete, mkdir — only inside the node's allowed paths (after
 * `..` and symlinks are resolved), only with the read_files / write_files grant, files no larger
 * than maxFileSize.
 */
export class FileOperationHandler extends BaseTaskHandler {
  readonly taskType = 'file_operation'
  override readonly isolation = 'inline' as const // bounded async fs calls, confined by realpath

  override requiredGrants (payload: unknown): Permission[] {
    const op = (payload as { operation?: unknown } | null)?.operation
    return [typeof op === 'string' && WRITES.has(op) ? 'write_files' : 'read_files']
  }

  override validate (payload: unknown): void {
    const o = asObject(payload)
    const op = oneOf(o, 'operation', OPERATIONS)
    str(o, 'path', { nonEmpty: true, maxLength: 4096 })
    if (op === 'write' || op === 'append') str(o, 'content')
    else if (o.content !== undefined) throw new InvalidPayloadError('content', `is only for write and append, not ${op}`)
    if (o.encoding !== undefined) oneOf(o, 'encoding', ['utf8', 'base64'] as const)
    bool(o, 'recursive')
    if (String(o.path).includes('\0')) throw new InvalidPayloadError('path', 'must not contain NUL bytes')
  }

  async execute (payload: FilePayload, ctx: HandlerContext): Promise<unknown> {
    if (!ctx.limits.allowFilesystem) throw new PermissionDeniedError('the task\'s sandbox does not allow filesystem access')
    const real = await confine(payload.path, ctx.policy.allowedPaths, ctx.limits.taskPaths)
    const max = ctx.limits.maxFileSizeBytes
    const enc = payload.encoding ?? 'utf8'
    switch (payload.operation) {
      case 'read': return await readFileCapped(real, max, enc)
      case 'write':
      case 'append': return await writeFileCapped(real, payload.operation, Buffer.from(payload.content ?? '', enc), max)
      case 'list': return await list(real)
      case 'stat': return describeStat(real, await statOrNotFound(real))
      case 'delete': return await remove(real, ctx.policy.allowedPaths, payload.recursive ?? false)
      case 'mkdir': {
        await mkdir(real, { recursive: payload.recursive ?? true })
        return { path: real, created: true }
      }
    }
  }
}

async function statOrNotFound (p: string): Promise<Stats> {
  try { return await stat(p) } catch (err) { throw fsError(err, p) }
}

function fsError (err: unknown, p: string): TaskFailure {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return new InvalidPayloadError('path', `${p} does not exist`)
  if (code === 'EACCES' || code === 'EPERM') return new PermissionDeniedError(`${p}: the node's OS user may not access it`)
  if (code === 'EISDIR') return new InvalidPayloadError('path', `${p} is a directory`)
  if (code === 'ENOTDIR') return new InvalidPayloadError('path', `${p}: a parent is not a directory`)
  if (code === 'ENOTEMPTY') return new InvalidPayloadError('recursive', `${p} is not empty; set recursive: true`)
  if (code === 'ELOOP') return new PermissionDeniedError(`${p} is a symbolic link`)
  if (code === 'ENOSPC') return new ResourceExhaustedError(`${p}: no space left on device`)
  return new TaskFailure('execution_error', `${p}: ${(err as Error).message}`)
}

async function readFileCapped (p: string, max: number, enc: 'utf8' | 'base64'): Promise<unknown> {
  // O_NOFOLLOW: the path was resolved already; a link swapped in since is refused, not followed
  const fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW).catch(err => { throw fsError(err, p) })
  try {
    const st = await fh.stat()
    if (!st.isFile()) throw new InvalidPayloadError('path', `${p} is not a regular file`)
    if (st.size > max) throw new ResourceExhaustedError(`${p} is ${st.size} bytes, over the node's maxFileSize of ${max} bytes`)
    const buf = await fh.readFile()
    return { path: p, size: buf.length, encoding: enc, content: buf.toString(enc) }
  } finally { await fh.close() }
}

async function writeFileCapped (p: string, op: 'write' | 'append', data: Buffer, max: number): Promise<unknown> {
  let existing = 0
  if (op === 'append') existing = (await stat(p).catch(() => undefined))?.size ?? 0
  if (existing + data.length > max) {
    throw new ResourceExhaustedError(`${p} would be ${existing + data.length} bytes, over the node's maxFileSize of ${max} bytes`)
  }
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | (op === 'append' ? constants.O_APPEND : constants.O_TRUNC)
  const fh = await open(p, flags, 0o644).catch(err => { throw fsError(err, p) })
  try {
    await fh.writeFile(data)
  } finally { await fh.close() }
  return { path: p, bytesWritten: data.length }
}

async function list (p: string): Promise<unknown> {
  const entries = await readdir(p, { withFileTypes: true }).catch(err => {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') throw new InvalidPayloadError('path', `${p} is not a directory`)
    throw fsError(err, p)
  })
  const out = entries.slice(0, MAX_LIST).map(e => ({
    name: e.name,
    type: e.isDirectory() ? 'directory' : e.isFile() ? 'file' : e.isSymbolicLink() ? 'symlink' : 'other'
  }))
  return { path: p, entries: out, truncated: entries.length > MAX_LIST }
}

function describeStat (p: string, st: Stats): unknown {
  return {
    path: p,
    type: st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other',
    size: st.size,
    mode: st.mode & 0o7777,
    mtimeMs: st.mtimeMs
  }
}

async function remove (p: string, roots: string[], recursive: boolean): Promise<unknown> {
  for (const r of roots) {
    if (await resolveReal(r) === p) throw new PermissionDeniedError(`${p} is an allowed root; it cannot be deleted`)
  }
  const st = await lstat(p).catch(err => { throw fsError(err, p) })
  if (st.isDirectory() && !recursive) {
    const n = (await readdir(p)).length
    if (n > 0) throw new InvalidPayloadError('recursive', `${p} is a non-empty directory; set recursive: true`)
  }
  await rm(p, { recursive: st.isDirectory(), force: false }).catch(err => { throw fsError(err, p) })
  return { path: p, deleted: true }
}

