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

/** Methods of `Storage` a study does without (it checks for them before each call). */
type OptionalStorageMethod = 'areClaimed';

/**
 * Every required method of `Storage`, each of which a study may call: an object missing one is
 * refused here, not left to fail mid-run with a TypeError (at the first `ask`, without
 * `popWaitingTrial`). A record keyed by `keyof Storage`, so that the compiler keeps it complete.
 */
const STORAGE_METHODS: Readonly<Record<Exclude<keyof Storage, OptionalStorageMethod>, true>> = {
  createStudy: true,
  deleteStudy: true,
  getStudyIdFromName: true,
  getStudyName: true,
  getStudyDirections: true,
  getAllStudies: true,
  setStudyUserAttr: true,
  setStudySystemAttr: true,
  getStudyUserAttrs: true,
  getStudySystemAttrs: true,
  createTrial: true,
  createTrialIfBelow: true,
  popWaitingTrial: true,
  updateTrial: true,
  finishTrial: true,
  getTrial: true,
  getAllTrials: true,
  getNTrials: true,
  claim: true,
  close: true,
};

/**
 * The `Storage` that a `storage` option names (see the file header): a `Storage` as it is,
 * `undefined` / `'memory'` / `':memory:'` a new `InMemoryStorage`, `'journal:<path>'` or a path
 * ending in `.journal`, `.jsonl` or `.log` a `JournalStorage`.
 *
 * @throws StorageError for a `postgresql://` URL (not built in yet); InvalidOptionError for anything else.
 */
export function openStorage(spec: Storage | string | undefined): Storage {
  if (spec === undefined) return new InMemoryStorage();
  if (typeof spec === 'string') return openFromString(spec);
  if (typeof spec === 'object' && spec !== null) {
    const methods = spec as unknown as Record<string, unknown>;
    if (Object.keys(STORAGE_METHODS).every((m) => typeof methods[m] === 'function')) return spec;
  }
  throw new InvalidOptionError('storage', EXPECTED, spec);
}

/** What a storage string names, as `openStorage` reads it (`parseStorageSpec`). */
export type StorageSpec =
  | { readonly kind: 'memory' }
  /** `journal:<path>`, `journal://<path>`, or a path ending in .journal, .jsonl or .log. */
  | { readonly kind: 'journal'; readonly path: string }
  /** `postgresql://...` / `postgres://...`: recognized, not built in yet. */
  | { readonly kind: 'postgresql' }
  /** Another URL (`scheme://...`): no such backend. */
  | { readonly kind: 'url'; readonly scheme: string }
  /** Anything else, e.g. a path with another extension (the CLI takes it as a journal file). */
  | { readonly kind: 'other'; readonly text: string };

/**
 * Reads a storage string without opening anything (the one parser of storage strings; the CLI
 * uses it too). The text is trimmed; `journal:` followed by `//` drops the `//`, so
 * `journal://runs/s.journal` is the relative path `runs/s.journal` and `journal:///abs/s.journal`
 * an absolute one. Throws `InvalidOptionError` (option "storage") for `journal:` with no path.
 */
export function parseStorageSpec(spec: string): StorageSpec {
  const text = spec.trim();
  if (text === 'memory' || text === ':memory:') return { kind: 'memory' };
  if (/^postgres(ql)?:\/\//i.test(text)) return { kind: 'postgresql' };
  if (text.startsWith('journal:')) {
    let path = text.slice('journal:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path.length === 0) throw new InvalidOptionError('storage', 'a file path after "journal:"', spec);
    return { kind: 'journal', path };
  }
  const url = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (url !== null) return { kind: 'url', scheme: url[1] };
  if (JOURNAL_EXTENSIONS.some((ext) => text.endsWith(ext) && text.length > ext.length)) return { kind: 'journal', path: text };
  return { kind: 'other', text };
}

/** The error for `postgresql://...`. */
export function postgresNotBuiltIn(): StorageError {
  return new StorageError(
    'PostgreSQL storage is not built in yet; use a journal file (e.g. "./study.journal"), which several ' +
      'processes on one machine can share',
  );
}

function openFromString(spec: string): Storage {
  const parsed = parseStorageSpec(spec);
  switch (parsed.kind) {
    case 'memory':
      return new InMemoryStorage();
    case 'journal':
      return new JournalStorage({ path: parsed.path });
    case 'postgresql':
      throw postgresNotBuiltIn();
    default:
      throw new InvalidOptionError('storage', EXPECTED, spec);
  }
}
