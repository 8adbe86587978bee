// Task handlers by type. A node registers the built-ins plus the modules named by `--handlers`, and
// advertises registry types (filtered by what it can actually run) in its bid, so the scheduler
// only sends a type where it is registered.

import { resolve as resolvePath } from 'node:path'
import { pathToFileURL } from 'node:url'
import { DuplicateHandlerError, HandlerLoadError } from './errors.js'
import type { HandlerContext, NodePolicy } from './context.js'
import type { Permission } from '../../sched/types.js'

export type Isolation = 'inline' | 'process'

export abstract class BaseTaskHandler {
  abstract readonly taskType: string
  abstract execute (payload: any, ctx: HandlerContext): unknown | Promise<unknown>
  /** throw InvalidPayloadError (naming the field) before anything runs */
  validate? (payload: any): void
  /**
   * 'inline' runs in the node process (only for trivially safe handlers); 'process' runs in a child
   * Node process so a crash, hang or memory hog cannot take the node down. Default: 'inline' for
   * handlers registered as objects, 'process' for handlers loaded from a module.
   */
  readonly isolation?: Isolation
  /**
   * grants this payload needs from the node (command: system_commands; file_operation: read_files
   * or write_files). Checked before validate or execute: a missing grant is permission_denied.
   * Must not throw on a malformed payload.
   */
  requiredGrants? (payload: any): Permission[]
  /** whether this node can run the type at all (python3 present, grant given, ...) */
  available? (policy: NodePolicy): boolean
}

export interface RegisteredHandler {
  handler: BaseTaskHandler
  isolation: Isolation
  /** absolute path of the module it came from: a child process re-imports it from there */
  modulePath?: string
}

export interface RegisterOptions { modulePath?: string, isolation?: Isolation }

export class TaskRegistry {
  private readonly entries = new Map<string, RegisteredHandler>()

  register (handler: BaseTaskHandler, opts: RegisterOptions = {}): void {
    assertHandler(handler, opts.modulePath ?? '(register)')
    if (this.entries.has(handler.taskType)) throw new DuplicateHandlerError(handler.taskType)
    const isolation = opts.isolation ?? handler.isolation ?? (opts.modulePath !== undefined ? 'process' : 'inline')
    if (isolation === 'process' && opts.modulePath === undefined) {
      // a child can only run what it can import; an object handed to register() has no module
      throw new HandlerLoadError('(register)', `handler "${handler.taskType}" wants process isolation but has no module path; load it with loadModule()`)
    }
    this.entries.set(handler.taskType, { handler, isolation, modulePath: opts.modulePath })
  }

  unregister (taskType: string): boolean { return this.entries.delete(taskType) }
  get (taskType: string): BaseTaskHandler | undefined { return this.entries.get(taskType)?.handler }
  entry (taskType: string): RegisteredHandler | undefined { return this.entries.get(taskType) }
  has (taskType: string): boolean { return this.entries.has(taskType) }
  types (): string[] { return [...this.entries.keys()].sort() }

  /** types this node can run under `policy` (drops e.g. python_eval without python3) */
  availableTypes (policy: NodePolicy): string[] {
    const out: string[] = []
    for (const [type, e] of this.entries) if (e.handler.available?.(policy) ?? true) out.push(type)
    return out.sort()
  }

  /** Import a handler module and register what its default export holds; returns the new types. */
  async loadModule (path: string): Promise<string[]> {
    const abs = resolvePath(path)
    const handlers = await importHandlers(abs)
    for (const h of handlers) {
      if (this.entries.has(h.taskType)) throw new DuplicateHandlerError(h.taskType)
    }
    for (const h of handlers) this.register(h, { modulePath: abs })
    return handlers.map(h => h.taskType)
  }
}

export async function loadHandlerModules (paths: string[], registry: TaskRegistry): Promise<void> {
  for (const p of paths) await registry.loadModule(p)
}

/** default export: a handler instance, a handler class, or an array of either */
export async function importHandlers (absPath: string): Promise<BaseTaskHandler[]> {
  let mod: Record<string, unknown>
  try {
    mod = await import(pathToFileURL(absPath).href) as Record<string, unknown>
  } catch (err) {
    throw new HandlerLoadError(absPath, `cannot import: ${(err as Error).message}`)
  }
  const exported = mod.default
  if (exported === undefined) throw new HandlerLoadError(absPath, 'has no default export (a handler instance, class, or array of them)')
  const items = Array.isArray(exported) ? exported : [exported]
  if (items.length === 0) throw new HandlerLoadError(absPath, 'default export is an empty array')
  return items.map((item, i) => instantiate(item, absPath, i))
}

function instantiate (item: unknown, absPath: string, index: number): BaseTaskHandler {
  let h: unknown = item
  if (typeof item === 'function') {
    try {
      h = new (item as new () => unknown)()
    } catch (err) {
      throw new HandlerLoadError(absPath, `export #${index}: constructor threw: ${(err as Error).message}`)
    }
  }
  assertHandler(h, absPath, index)
  return h
}

function assertHandler (h: unknown, where: string, index = 0): asserts h is BaseTaskHandler {
  const o = h as { taskType?: unknown, execute?: unknown } | null
  if (o === null || typeof o !== 'object') throw new HandlerLoadError(where, `export #${index} is not a handler object or class`)
  if (typeof o.taskType !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(o.taskType)) {
    throw new HandlerLoadError(where, `export #${index}: taskType must be a string of 1-64 letters, digits, _ . : -`)
  }
  if (typeof o.execute !== 'function') throw new HandlerLoadError(where, `export #${index} ("${o.taskType}"): execute is not a function`)
}
