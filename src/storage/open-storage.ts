/**
 * `openStorage`: turns the `storage` option of `createStudy` and the CLI into a `Storage`.
 *
 * - a `Storage` object is returned as it is;
 * - `undefined`, `'memory'` or `':memory:'` give a fresh `InMemoryStorage`;
 * - `'journal:<path>'` (also `journal://<path>`), or a path ending in `.journal`, `.jsonl` or
 *   `.log`, give a `JournalStorage` on that file;
 * - `postgresql://...` is recognized but not built in yet (a `StorageError` says so);
 * - anything else is an `InvalidOptionError` naming the option "storage".
 */
import { InvalidOptionError, StorageError } from '../errors.js';
import { JournalStorage } from './journal-storage.js';
import { InMemoryStorage } from './memory-storage.js';
import type { Storage } from './storage.js';

const JOURNAL_EXTENSIONS = ['.journal', '.jsonl', '.log'] as const;
const EXPECTED =
  'a Storage, "memory" / ":memory:", a journal file path ending in .journal, .jsonl or .log, or "journal:<path>"';

const STORAGE_METHODS = [
  'createStudy',
  'getStudyIdFromName',
  'createTrial',
  'finishTrial',
  'getAllTrials',
  'close',
] as const;

export function openStorage(spec: Storage | string | undefined): Storage {
  if (spec === undefined) return new InMemoryStorage();
  if (typeof spec === 'string') return openFromString(spec);
  if (typeof spec === 'object' && spec !== null) {
    const methods = spec as unknown as Record<string, unknown>;
    if (STORAGE_METHODS.every((m) => typeof methods[m] === 'function')) return spec;
  }
  throw new InvalidOptionError('storage', EXPECTED, spec);
}

function openFromString(spec: string): Storage {
  const text = spec.trim();
  if (text === 'memory' || text === ':memory:') return new InMemoryStorage();
  if (/^postgres(ql)?:\/\//i.test(text)) {
    throw new StorageError(
      'PostgreSQL storage is not built in yet; use a journal file (e.g. "./study.journal"), which several ' +
        'processes on one machine can share',
    );
  }
  if (text.startsWith('journal:')) {
    let path = text.slice('journal:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path.length === 0) throw new InvalidOptionError('storage', 'a file path after "journal:"', spec);
    return new JournalStorage({ path });
  }
  if (JOURNAL_EXTENSIONS.some((ext) => text.endsWith(ext) && text.length > ext.length)) {
    return new JournalStorage({ path: text });
  }
  throw new InvalidOptionError('storage', EXPECTED, spec);
}
