/**
 * The `--storage` flag of the read-only commands (`trials`, `best`, `studies`): a journal path
 * (default `kestrel.journal` in the current directory). A missing file is an error rather than a
 * new empty journal, so a typo never silently reports "no studies".
 */
import { access } from 'node:fs/promises';
import { StorageError } from '../errors.js';
import { DEFAULT_JOURNAL, MEMORY_STORAGE, resolveStorage, storageSpec } from './config.js';

/** Resolves `--storage` to a spec for `openStorage` / `loadStudy`; rejects when the journal does not exist. */
export async function resolveReadStorage(spec: string | undefined, cwd: string): Promise<string> {
  const storage = resolveStorage(spec ?? DEFAULT_JOURNAL, cwd, '--storage');
  if (storage === MEMORY_STORAGE) return storage;
  try {
    await access(storage);
  } catch {
    throw new StorageError(`no journal file at ${storage} (pass --storage PATH)`);
  }
  return storageSpec(storage);
}
