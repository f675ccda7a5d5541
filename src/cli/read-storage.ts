/**
 * The `--storage` flag of the read-only commands (`trials`, `best`, `studies`): a journal path
 * (default `kestrel.journal` in the current directory). A missing file (or a directory) is a
 * usage error, `ConfigError` at `--storage` (exit 2), rather than a new empty journal, so a typo
 * never silently reports "no studies".
 *
 * The journal is opened strictly read-only (`JournalStorage({path, readOnly: true})`): the file is
 * opened O_RDONLY, no lock is taken and no lock file created, and a torn last line (a write in
 * progress, or a crashed writer's fragment) is ignored in memory and left on disk for the next
 * writer to clean. So these commands never wait for or interfere with a running `kestrel run` /
 * `kestrel worker` (they show the trials finished so far), never break a lock they judge stale,
 * and work on a journal the user can only read (a 444 file, a read-only mount or directory).
 * Before, they opened the journal for writing and took the lock to truncate a torn last line.
 */
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ConfigError, StorageError, StudyNotFoundError } from '../errors.js';
import { JournalStorage } from '../storage/journal-storage.js';
import { InMemoryStorage } from '../storage/memory-storage.js';
import type { Storage } from '../storage/storage.js';
import { loadStudy } from '../study/create-study.js';
import type { Study } from '../study/study.js';
import { DEFAULT_JOURNAL, MEMORY_STORAGE, resolveStorage } from './config.js';

/**
 * Resolves `--storage` and opens it for reading: a read-only `JournalStorage`, or an empty
 * in-memory storage for `:memory:`. Rejects with `ConfigError` (path `--storage`) when nothing is
 * at the path or it is a directory, with `StorageError` when it cannot be examined.
 * The caller owns the storage and closes it (`loadStudy` on a `Storage` object does not).
 */
export async function openReadStorage(spec: string | undefined, cwd: string): Promise<Storage> {
  const storage = resolveStorage(spec ?? DEFAULT_JOURNAL, cwd, '--storage');
  if (storage === MEMORY_STORAGE) return new InMemoryStorage();
  // A path with nothing there (a typo, the wrong directory) or a directory is a usage error
  // (exit 2), as the CLI's other bad arguments are; a file that exists but cannot be read is a
  // storage failure (exit 1), reported when the journal is opened.
  let info: Stats;
  try {
    info = await stat(storage);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ConfigError('--storage', `no journal file at ${storage} (${spec === undefined ? 'the default; ' : ''}kestrel run creates one)`);
    }
    throw new StorageError(`cannot open the journal ${storage}: ${(error as Error).message}`, { cause: error });
  }
  if (info.isDirectory()) throw new ConfigError('--storage', `${storage} is a directory, not a journal file`);
  return new JournalStorage({ path: storage, readOnly: true });
}

/**
 * `loadStudy` for `trials` and `best`: a study the storage does not hold is a `StudyNotFoundError`
 * that names the studies it does hold, so a mistyped name shows the right one.
 */
export async function loadReadStudy(studyName: string, storage: Storage): Promise<Study> {
  try {
    return await loadStudy({ studyName, storage });
  } catch (error) {
    if (!(error instanceof StudyNotFoundError)) throw error;
    const names = (await storage.getAllStudies()).map((s) => s.studyName);
    throw new StudyNotFoundError(studyName, names.length === 0 ? 'it holds no studies' : `its studies: ${names.join(', ')}`);
  }
}
