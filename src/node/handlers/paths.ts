// Confinement of file paths to the node's allowed paths. A path is judged by where it really
// leads: `..` is resolved, then every symlink on the way, via the realpath of the nearest existing
// ancestor (the rest of the path does not exist yet, so it cannot be a link).

import { realpath, lstat } from 'node:fs/promises'
import { dirname, basename, isAbsolute, join, resolve, sep } from 'node:path'
import { PermissionDeniedError } from './errors.js'

async function realpathOrUndefined (p: string): Promise<string | undefined> {
  try { return await realpath(p) } catch { return undefined }
}

/** realpath of `p`, or of its nearest existing ancestor joined with the missing rest */
export async function resolveReal (p: string): Promise<string> {
  const abs = resolve(p)
  const missing: string[] = []
  let cur = abs
  for (;;) {
    const real = await realpathOrUndefined(cur)
    if (real !== undefined) return missing.length === 0 ? real : join(real, ...missing.reverse())
    // a dangling symlink: it exists, points nowhere yet, and writing through it would escape
    const st = await lstat(cur).catch(() => undefined)
    if (st?.isSymbolicLink() === true) throw new PermissionDeniedError(`${abs}: ${cur} is a dangling symbolic link`)
    const parent = dirname(cur)
    if (parent === cur) return abs
    missing.push(basename(cur))
    cur = parent
  }
}

export function isInside (child: string, root: string): boolean {
  return child === root || child.startsWith(root.endsWith(sep) ? root : root + sep)
}

/**
 * Resolve `p` (relative paths are taken from the first allowed root) and require it inside one of
 * `roots`, and inside one of `narrower` if given (a task's own sandbox paths). Returns the real path.
 */
export async function confine (p: string, roots: string[], narrower?: string[], field = 'path'): Promise<string> {
  if (roots.length === 0) throw new PermissionDeniedError('this node allows no file paths (start it with --allowed-paths)')
  const realRoots = await realRootsOf(roots)
  const base = realRoots[0] ?? resolve(roots[0])
  const real = await resolveReal(isAbsolute(p) ? p : join(base, p))
  if (!realRoots.some(r => isInside(real, r))) {
    throw new PermissionDeniedError(`payload.${field}: ${p} resolves to ${real}, outside the allowed paths`, { field, resolved: real })
  }
  if (narrower !== undefined && narrower.length > 0) {
    const realNarrow = await realRootsOf(narrower)
    if (!realNarrow.some(r => isInside(real, r))) {
      throw new PermissionDeniedError(`payload.${field}: ${p} is outside the task's sandbox allowedPaths`, { field, resolved: real })
    }
  }
  return real
}

async function realRootsOf (roots: string[]): Promise<string[]> {
  const out: string[] = []
  for (const r of roots) out.push(await resolveReal(r))
  return out
}
