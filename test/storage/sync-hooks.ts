/**
 * A `node:fs` wrapper for tests that make a journal's fdatasync fail (an EIO cannot be produced
 * on demand otherwise) and watch which directories are fsynced. In a test file:
 *
 *     vi.mock('node:fs', async (importOriginal) =>
 *       (await import('../storage/sync-hooks.js')).wrapSyncs(await importOriginal<typeof import('node:fs')>()),
 *     );
 *     const { syncHooks, eio, resetSyncHooks } = await import('../storage/sync-hooks.js');
 *
 * This module imports no `node:fs` value itself, so the mock's factory can load it.
 */
import type * as Fs from 'node:fs';

export const syncHooks: {
  /** Called before each fdatasyncSync; may throw in its place. */
  beforeSync: (() => void) | null;
  /** When set, each fsyncSync pushes the path its fd was opened with ('?' if not opened through openSync). */
  fsynced: string[] | null;
} = { beforeSync: null, fsynced: null };

/** The paths of the fds openSync returned, for `fsynced`. */
const paths = new Map<number, string>();

/** `fs` with fdatasyncSync, fsyncSync and openSync wrapped for `syncHooks`. */
export function wrapSyncs(fs: typeof Fs): typeof Fs {
  return {
    ...fs,
    fdatasyncSync: ((fd: number) => {
      syncHooks.beforeSync?.();
      fs.fdatasyncSync(fd);
    }) as typeof fs.fdatasyncSync,
    openSync: ((path: Fs.PathLike, flags?: Fs.OpenMode, mode?: Fs.Mode) => {
      const fd = fs.openSync(path, flags ?? 'r', mode);
      paths.set(fd, String(path));
      return fd;
    }) as typeof fs.openSync,
    fsyncSync: ((fd: number) => {
      syncHooks.fsynced?.push(paths.get(fd) ?? '?');
      fs.fsyncSync(fd);
    }) as typeof fs.fsyncSync,
  };
}

/** The error a failed fdatasync throws (EIO), as Node builds it. */
export function eio(): Error {
  return Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' });
}

/** Disarms every hook (for afterEach). */
export function resetSyncHooks(): void {
  syncHooks.beforeSync = null;
  syncHooks.fsynced = null;
}
