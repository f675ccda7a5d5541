/**
 * `kestrel run` on a journal whose fdatasync fails (EIO): the user gets STORAGE_SYNC_FAILED with
 * the file, the errno and what to do, exit 1; running `kestrel run` again resumes from what the
 * journal holds. `node:fs` is wrapped so that the test can make one fdatasync fail.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

vi.mock('node:fs', async (importOriginal) =>
  (await import('../storage/sync-hooks.js')).wrapSyncs(await importOriginal<typeof import('node:fs')>()),
);
const { syncHooks: hooks, eio, resetSyncHooks } = await import('../storage/sync-hooks.js');

const { makeTempDir, runInProcess, writeFiles } = await import('./helpers.js');
const { loadStudy } = await import('../../src/study/create-study.js');
const { Study } = await import('../../src/study/study.js');
const { StorageError } = await import('../../src/errors.js');

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('cli-sync'));
  await writeFiles(dir, {
    'objective.mjs': 'export function objective(params) { return (params.x - 1) ** 2; }\n',
    'broken.mjs': 'export function objective() { throw new Error("boom"); }\n',
    'broken.yaml': 'study: b\nobjective: ./broken.mjs\nspace:\n  x: {type: float, low: 0, high: 1}\nnTrials: 2\nstorage: ./b.journal\n',
    'run.yaml': 'study: s\nobjective: ./objective.mjs\nspace:\n  x: {type: float, low: -3, high: 3}\nsampler: {name: random, seed: 3}\nnTrials: 6\nstorage: ./s.journal\n',
  });
});
afterAll(async () => cleanup());
afterEach(() => {
  resetSyncHooks();
  vi.restoreAllMocks();
});

describe('kestrel run when an fdatasync of the journal fails', () => {
  it('exits 1 with STORAGE_SYNC_FAILED naming the file and errno and saying to run again; a new run resumes', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    let nSyncs = 0;
    // The first fdatasync is the study's creation, the next ones each a finished trial's: the third trial's fails.
    hooks.beforeSync = () => {
      nSyncs++;
      if (nSyncs === 4) throw eio();
    };
    const failed = await runInProcess(['run', 'run.yaml'], dir);
    const journal = path.join(dir, 's.journal');
    expect(failed.code).toBe(1);
    const line = failed.stderr.split('\n').find((l) => l.startsWith('kestrel: STORAGE_SYNC_FAILED: '));
    expect(line, failed.stderr).toBeDefined();
    expect(line).toContain(journal);
    expect(line).toMatch(/fdatasync failed with EIO/);
    expect(line).toMatch(/run kestrel again/);
    // Nothing else is reported after it (no second error line replacing it, no stack).
    expect(failed.stderr.split('\n').filter((l) => l.startsWith('kestrel: ') && /^kestrel: [A-Z_]+: /.test(l))).toEqual([line]);

    hooks.beforeSync = null;
    const again = await runInProcess(['run', 'run.yaml'], dir);
    expect(again.code, again.stderr).toBe(0);
    const study = await loadStudy({ studyName: 's', storage: journal });
    expect((await study.getTrials()).filter((t) => t.state === 'COMPLETE').length).toBeGreaterThan(0);
    expect(await study.getTrials()).toHaveLength(6);
    await study.close();
  });
});

describe('kestrel run when closing the journal fails to sync it', () => {
  const closeFails = (): void => {
    vi.spyOn(Study.prototype, 'close').mockRejectedValue(
      new StorageError('cannot sync the journal j: fdatasync failed with EIO (EIO: i/o error, fdatasync) on close', { syncFailed: true }),
    );
  };

  it('after a run that succeeded: exits 1 with STORAGE_SYNC_FAILED and the advice, after the results', async () => {
    closeFails();
    const result = await runInProcess(['run', 'run.yaml', '--study', 'closing'], dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/best trial #/);
    expect(result.stderr).toMatch(/^kestrel: STORAGE_SYNC_FAILED: cannot sync the journal j: .* on close\. .*run kestrel again/m);
  });

  it('after a run that failed: that error stays the one reported, the failed close is reported beside it', async () => {
    closeFails();
    const result = await runInProcess(['run', 'broken.yaml'], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^kestrel: NO_COMPLETED_TRIALS: /m);
    expect(result.stderr).toMatch(/^kestrel: closing the storage failed too: STORAGE_SYNC_FAILED: cannot sync the journal j/m);
    expect(result.stderr).not.toMatch(/^kestrel: STORAGE_SYNC_FAILED/m);
  });
});

describe('kestrel run into directories that do not exist yet', () => {
  it('makes them and syncs each new entry with the first record, so a power loss cannot take the journal away', async () => {
    hooks.fsynced = [];
    const result = await runInProcess(['run', 'run.yaml', '--storage', 'new/deeper/s.journal', '--n-trials', '1'], dir);
    expect(result.code, result.stderr).toBe(0);
    expect([...hooks.fsynced].sort()).toEqual([dir, path.join(dir, 'new'), path.join(dir, 'new', 'deeper')].sort());
  });
});
