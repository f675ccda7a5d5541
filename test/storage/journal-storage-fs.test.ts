/**
 * JournalStorage against file-system conditions that cannot be produced on demand: a torn last line
 * truncated by another process between a reader's fstat and its read, a journal that cannot be
 * opened for writing (tests usually run as root, which file modes do not stop), a full disk, an
 * fdatasync/fsync that fails (EIO), and a directory that cannot be opened or fsynced. `node:fs` is
 * wrapped so that a test can step in at those points, and log the order of the calls that change or
 * sync the file.
 */
import * as realFs from 'node:fs';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

const hooks: {
  afterFstat: ((fd: number, size: number) => void) | null;
  refuseWrite: string | null;
  /** Called before each writeSync(fd, buffer, offset, length); may write part of it itself and throw. */
  beforeWrite: ((fd: number, buffer: Buffer, offset: number, length: number) => void) | null;
  /** Called before each fdatasyncSync(fd) and fsyncSync(fd); may throw in its place. */
  beforeSync: ((syscall: 'fdatasync' | 'fsync', fd: number) => void) | null;
  /** Called before each openSync(path, flags); may throw in its place. */
  beforeOpen: ((path: string, flags: realFs.OpenMode | undefined) => void) | null;
  /**
   * When set, each ftruncateSync, fdatasyncSync and fsyncSync pushes its name here, and each
   * writeSync of a journal record (a buffer holding a crc member, not a lock file's line) 'append'.
   */
  log: string[] | null;
} = { afterFstat: null, refuseWrite: null, beforeWrite: null, beforeSync: null, beforeOpen: null, log: null };

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    fstatSync: ((fd: number, ...rest: unknown[]) => {
      const stats = (fs.fstatSync as (...args: unknown[]) => realFs.Stats)(fd, ...rest);
      hooks.afterFstat?.(fd, stats.size);
      return stats;
    }) as typeof fs.fstatSync,
    writeSync: ((fd: number, buffer: unknown, ...rest: unknown[]) => {
      if (Buffer.isBuffer(buffer) && buffer.includes('"crc":')) hooks.log?.push('append');
      if (hooks.beforeWrite !== null && Buffer.isBuffer(buffer) && typeof rest[0] === 'number' && typeof rest[1] === 'number') {
        hooks.beforeWrite(fd, buffer, rest[0], rest[1]);
      }
      return (fs.writeSync as (...args: unknown[]) => number)(fd, buffer, ...rest);
    }) as typeof fs.writeSync,
    fdatasyncSync: ((fd: number) => {
      hooks.log?.push('fdatasync');
      hooks.beforeSync?.('fdatasync', fd);
      fs.fdatasyncSync(fd);
    }) as typeof fs.fdatasyncSync,
    fsyncSync: ((fd: number) => {
      hooks.log?.push('fsync');
      hooks.beforeSync?.('fsync', fd);
      fs.fsyncSync(fd);
    }) as typeof fs.fsyncSync,
    ftruncateSync: ((fd: number, len?: number) => {
      hooks.log?.push('ftruncate');
      fs.ftruncateSync(fd, len);
    }) as typeof fs.ftruncateSync,
    openSync: ((path: realFs.PathLike, flags?: realFs.OpenMode, mode?: realFs.Mode) => {
      hooks.beforeOpen?.(String(path), flags);
      if (hooks.refuseWrite !== null && String(path) === hooks.refuseWrite && flags !== 'r') {
        throw Object.assign(new Error(`EACCES: permission denied, open '${String(path)}'`), { code: 'EACCES' });
      }
      return fs.openSync(path, flags ?? 'r', mode);
    }) as typeof fs.openSync,
  };
});

const { JournalStorage } = await import('../../src/storage/journal-storage.js');
const { StorageError } = await import('../../src/errors.js');
const { captureWarnings } = await import('../capture-warnings.js');

const root = mkdtempSync(join(tmpdir(), 'kestrel-journal-fs-'));
let n = 0;
const freshPath = (): string => join(root, `j${n++}.journal`);
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  hooks.afterFstat = null;
  hooks.refuseWrite = null;
  hooks.beforeWrite = null;
  hooks.beforeSync = null;
  hooks.beforeOpen = null;
  hooks.log = null;
  vi.restoreAllMocks();
});

describe('a lock-free read racing with the truncation of a torn line', () => {
  it('reads nothing when the file shrank back between fstat and read, and stays usable', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const path = freshPath();
    const writer = new JournalStorage({ path });
    const id = await writer.createStudy('s', ['minimize']);
    for (let i = 0; i < 5; i++) {
      const t = await writer.createTrial(id);
      await writer.finishTrial(t.trialId, { state: 'COMPLETE', values: [i] });
    }
    const reader = new JournalStorage({ path });
    expect(await reader.getNTrials(id)).toBe(5);

    // A killed process's torn write; the reader's fstat sees it, then another process truncates it.
    const clean = statSync(path).size;
    appendFileSync(path, '{"op":"createTrial","writer":"99-dead","seq":0,"studyId":0,"tri');
    hooks.afterFstat = (fd, size) => {
      if (size <= clean) return;
      hooks.afterFstat = null;
      realFs.ftruncateSync(fd, clean);
      // Whatever uninitialized memory the read buffer gets, it must not be replayed: make it a
      // complete, valid-looking record.
      const allocUnsafe = Buffer.allocUnsafe.bind(Buffer);
      const spy = vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((length: number) => {
        spy.mockRestore();
        return allocUnsafe(length).fill('{"op":"claim","studyId":0,"key":"phantom"}\n');
      });
    };
    expect(await reader.getNTrials(id)).toBe(5);
    expect(hooks.afterFstat).toBeNull(); // the race was staged
    expect(await reader.claim(id, 'phantom')).toBe(true); // no phantom claim was replayed
    const t = await reader.createTrial(id);
    expect(t.number).toBe(5);
    expect(await writer.getNTrials(id)).toBe(6);
    await reader.close();
    await writer.close();
  });
});

describe('a disk that fills up in the middle of an append', () => {
  it('rejects with StorageError, removes its own partial record without a crash warning, and writes again once there is room', async () => {
    const warnings = captureWarnings();
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const t = await s.createTrial(id);
    const size = statSync(path).size;
    // The kernel takes half of the record, then reports the disk full (as write(2) does).
    hooks.beforeWrite = (fd, buffer, offset, length) => {
      hooks.beforeWrite = null;
      realFs.writeSync(fd, buffer, offset, Math.floor(length / 2));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    await expect(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] })).rejects.toMatchObject({
      code: 'STORAGE_ERROR',
      message: expect.stringMatching(/cannot append .*ENOSPC/),
    });
    expect(statSync(path).size).toBe(size); // the half record is gone
    expect((await s.getTrial(t.trialId)).state).toBe('RUNNING'); // and so is its effect on the view
    // The storage's own failed write is reported by its error; no warning blames a killed process.
    expect(warnings.filter((w) => w.includes('JOURNAL_TORN_LINE'))).toEqual([]);
    expect((await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [2] })).values).toEqual([2]);
    await s.close();
    const reopened = new JournalStorage({ path, readOnly: true });
    expect((await reopened.getTrial(t.trialId)).values).toEqual([2]);
    await reopened.close();
  });
});

/** The error Node throws for a failed fdatasync(2) or fsync(2) (errno EIO). */
function eio(syscall: 'fdatasync' | 'fsync'): Error {
  return Object.assign(new Error(`EIO: i/o error, ${syscall}`), { code: 'EIO', errno: -5, syscall });
}

describe('an fdatasync that fails (EIO)', () => {
  // On Linux a failed fsync may drop the dirty pages it could not write and clear the error, so a
  // later sync succeeds while the earlier records are gone ("fsyncgate"): the storage must not go
  // on as if nothing happened.
  it('rejects that write with STORAGE_SYNC_FAILED naming the file and errno, then refuses every write while reads go on', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const done = await s.createTrial(id);
    await s.finishTrial(done.trialId, { state: 'COMPLETE', values: [0] });
    const t = await s.createTrial(id);
    await s.createTrial(id, { state: 'WAITING' });
    let nSyncs = 0;
    hooks.beforeSync = (syscall) => {
      nSyncs++;
      if (nSyncs === 1) throw eio(syscall);
    };
    const failed = await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(StorageError);
    expect(failed).toMatchObject({ code: 'STORAGE_SYNC_FAILED', cause: expect.objectContaining({ code: 'EIO' }) });
    expect((failed as Error).message).toContain(path);
    expect((failed as Error).message).toMatch(/fdatasync.*EIO/);
    // Syncing works again (the kernel cleared the error), but this storage must not trust the file.
    const size = statSync(path).size;
    // The trial whose result could not be made durable is not reported as saved.
    expect((await s.getTrial(t.trialId)).state).toBe('RUNNING');
    expect((await s.getTrial(done.trialId)).values).toEqual([0]);
    expect(await s.getNTrials(id)).toBe(3);
    const refused = { code: 'STORAGE_SYNC_FAILED', message: expect.stringMatching(/open it again/) };
    await expect(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] })).rejects.toMatchObject(refused);
    await expect(s.createTrial(id)).rejects.toMatchObject(refused);
    await expect(s.createTrialIfBelow(id, 100)).rejects.toMatchObject(refused);
    await expect(s.createStudy('t', ['minimize'])).rejects.toMatchObject(refused);
    await expect(s.setStudyUserAttr(id, 'k', 1)).rejects.toMatchObject(refused);
    await expect(s.updateTrial(t.trialId, { userAttrs: { k: 1 } })).rejects.toMatchObject(refused);
    await expect(s.popWaitingTrial(id)).rejects.toMatchObject(refused);
    await expect(s.claim(id, 'key')).rejects.toMatchObject(refused);
    await expect(s.deleteStudy(id)).rejects.toMatchObject(refused);
    expect(statSync(path).size).toBe(size);
    expect(nSyncs).toBe(1);
    await s.close();

    // A new storage on the file replays what it holds, and writes.
    const reopened = new JournalStorage({ path });
    expect((await reopened.getTrial(t.trialId)).values).toEqual([1]); // this record reached the file after all
    expect((await reopened.createTrial(id)).number).toBe(3);
    await reopened.close();
  });

  it('a new storage replays only what is on disk when the failed sync lost the record', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const t = await s.createTrial(id);
    const size = statSync(path).size;
    // The kernel drops the pages it could not write: the record is gone from the file as well.
    hooks.beforeSync = (syscall, fd) => {
      hooks.beforeSync = null;
      realFs.ftruncateSync(fd, size);
      throw eio(syscall);
    };
    await expect(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] })).rejects.toMatchObject({ code: 'STORAGE_SYNC_FAILED' });
    expect((await s.getTrial(t.trialId)).state).toBe('RUNNING');
    await expect(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [2] })).rejects.toMatchObject({ code: 'STORAGE_SYNC_FAILED' });
    expect(statSync(path).size).toBe(size);
    await s.close();
    const reopened = new JournalStorage({ path });
    expect((await reopened.getTrial(t.trialId)).state).toBe('RUNNING');
    expect((await reopened.finishTrial(t.trialId, { state: 'COMPLETE', values: [2] })).values).toEqual([2]);
    await reopened.close();
  });

  it('of the directory, when the first record creates the journal, fails the same way', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    hooks.beforeSync = (syscall) => {
      if (syscall === 'fsync') throw eio(syscall);
    };
    await expect(s.createStudy('s', ['minimize'])).rejects.toMatchObject({
      code: 'STORAGE_SYNC_FAILED',
      message: expect.stringMatching(/fsync.*EIO/),
    });
    hooks.beforeSync = null;
    expect(await s.getAllStudies()).toEqual([]);
    await expect(s.createStudy('s', ['minimize'])).rejects.toMatchObject({ code: 'STORAGE_SYNC_FAILED' });
    await s.close();
  });

  it('poisons only the storage whose sync failed: another one on the same file goes on', async () => {
    const path = freshPath();
    const a = new JournalStorage({ path });
    const b = new JournalStorage({ path });
    const id = await a.createStudy('s', ['minimize']);
    hooks.beforeSync = (syscall) => {
      hooks.beforeSync = null;
      throw eio(syscall);
    };
    const t = await a.createTrial(id);
    await expect(a.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] })).rejects.toMatchObject({ code: 'STORAGE_SYNC_FAILED' });
    const u = await b.createTrial(id);
    expect((await b.finishTrial(u.trialId, { state: 'COMPLETE', values: [2] })).values).toEqual([2]);
    await a.close();
    await b.close();
  });
});

describe('a journal that cannot be written', () => {
  async function populated(): Promise<string> {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const t = await s.createTrial(id);
    await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [0.5] });
    await s.close();
    return path;
  }

  it('is opened read-only when opening it for writing is refused (EACCES): reads work, writes reject', async () => {
    const path = await populated();
    hooks.refuseWrite = path;
    const s = new JournalStorage({ path });
    expect(s.readOnly).toBe(true);
    const id = await s.getStudyIdFromName('s');
    expect((await s.getAllTrials(id)).map((t) => t.values)).toEqual([[0.5]]);
    expect(await s.popWaitingTrial(id)).toBeNull(); // nothing to write: answered
    await expect(s.createTrial(id)).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringMatching(/read-only.*EACCES/) });
    await s.close();
  });

  it('readOnly: true never writes, not even the cleanup of a torn last line, and never creates a file', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const path = await populated();
    appendFileSync(path, '{"op":"torn');
    const size = statSync(path).size;
    const s = new JournalStorage({ path, readOnly: true });
    expect(s.readOnly).toBe(true);
    expect(await s.getNTrials(await s.getStudyIdFromName('s'))).toBe(1);
    await expect(s.createStudy('t', ['minimize'])).rejects.toMatchObject({ code: 'STORAGE_ERROR' });
    await s.close();
    expect(statSync(path).size).toBe(size);
    expect(() => new JournalStorage({ path: join(root, 'missing.journal'), readOnly: true })).toThrow(/cannot open/);
    expect(realFs.existsSync(join(root, 'missing.journal'))).toBe(false);
    expect(() => new JournalStorage({ path, readOnly: 'yes' as never })).toThrow(/readOnly/);
  });

  it('with a torn last line, still opens for reading when the lock file cannot be created (directory not writable)', async () => {
    const path = await populated();
    appendFileSync(path, '{"op":"torn');
    const size = statSync(path).size;
    hooks.refuseWrite = `${path}.lock`;
    const s = new JournalStorage({ path });
    const id = await s.getStudyIdFromName('s');
    expect((await s.getAllTrials(id)).map((t) => t.values)).toEqual([[0.5]]);
    expect(statSync(path).size).toBe(size); // the fragment is left for a writer that can lock
    await expect(s.createTrial(id)).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringMatching(/lock file.*EACCES/) });
    await s.close();
  });

  it('still reports a missing directory it cannot create', () => {
    hooks.refuseWrite = join(root, 'nope.journal');
    expect(() => new JournalStorage({ path: join(root, 'nope.journal') })).toThrow(/cannot open the journal/);
  });
});

/** A system error as Node throws it for `syscall` (`code` an errno name). */
function sysError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${code}: error, ${syscall}`), { code, syscall });
}

describe('close()', () => {
  // Records that are not synced when written (updateTrial, attributes, claims, popWaiting, a RUNNING
  // createTrial) are only in the page cache until something syncs the file.
  it('fdatasyncs the journal when a record written since the last sync is not yet synced', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const t = await s.createTrial(id);
    await s.updateTrial(t.trialId, { userAttrs: { k: 1 } });
    await s.setStudyUserAttr(id, 'a', 2);
    const synced: number[] = [];
    hooks.beforeSync = (syscall, fd) => {
      if (syscall === 'fdatasync') synced.push(fd);
    };
    await s.close();
    expect(synced).toHaveLength(1);
  });

  it('does not sync when everything written is already synced, or nothing was written', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const t = await s.createTrial(id);
    await s.updateTrial(t.trialId, { userAttrs: { k: 1 } });
    await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] }); // synced, with what came before
    const reader = new JournalStorage({ path });
    expect(await reader.getNTrials(id)).toBe(1);
    hooks.log = [];
    await s.close();
    await reader.close();
    expect(hooks.log).toEqual([]);
  });

  it('rejects with STORAGE_SYNC_FAILED when that sync fails, closing the storage and leaving the file whole', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const t = await s.createTrial(id);
    await s.updateTrial(t.trialId, { userAttrs: { k: 1 } });
    const size = statSync(path).size;
    hooks.beforeSync = (syscall) => {
      throw eio(syscall);
    };
    const failed = await s.close().catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(StorageError);
    expect(failed).toMatchObject({ code: 'STORAGE_SYNC_FAILED', cause: expect.objectContaining({ code: 'EIO' }) });
    expect((failed as Error).message).toContain(path);
    expect((failed as Error).message).toMatch(/fdatasync failed with EIO.*on close/);
    hooks.beforeSync = null;
    await expect(s.getNTrials(id)).rejects.toMatchObject({ message: expect.stringMatching(/closed/) });
    await s.close(); // a second close has nothing left to do
    expect(statSync(path).size).toBe(size);
    const reopened = new JournalStorage({ path, readOnly: true });
    expect((await reopened.getTrial(t.trialId)).userAttrs).toEqual({ k: 1 });
    await reopened.close();
  });

  it('waits for queued writes and syncs them too', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    hooks.log = [];
    const writes = [s.createTrial(id), s.createTrial(id), s.setStudyUserAttr(id, 'k', 1)];
    await s.close();
    await Promise.all(writes);
    expect(hooks.log).toEqual(['append', 'append', 'append', 'fdatasync']);
  });

  it('of a storage whose earlier sync failed does not sync again, and resolves', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const t = await s.createTrial(id);
    await s.updateTrial(t.trialId, { userAttrs: { k: 1 } });
    hooks.beforeSync = (syscall) => {
      hooks.beforeSync = null;
      throw eio(syscall);
    };
    await expect(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] })).rejects.toMatchObject({ code: 'STORAGE_SYNC_FAILED' });
    hooks.log = [];
    await s.close();
    expect(hooks.log).toEqual([]);
  });
});

describe('cutting off a torn last line', () => {
  // ftruncate changes the file in the page cache only. Until it is synced, the disk may still hold
  // the fragment; records appended after it, written back before the truncation's metadata (or in
  // part: a block holding the fragment's bytes beside a block of the new record), could come back
  // after a power loss as the fragment with records behind it: a complete line that fails its
  // checksum, and a journal that no longer opens (STORAGE_CORRUPT). So the cut is synced before
  // anything is appended after it.
  it('at open, syncs the truncation before any record is appended after it', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    await s.close();
    appendFileSync(path, '{"op":"createTrial","writer":"99-dead","seq":0,"studyId":0,"tri');
    hooks.log = [];
    const reopened = new JournalStorage({ path });
    const t = await reopened.createTrial(id);
    expect(hooks.log).toEqual(['ftruncate', 'fdatasync', 'append']);
    expect(t.number).toBe(0);
    await reopened.close();
  });

  it('by a writer catching up, syncs the truncation before its own record', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    appendFileSync(path, '{"op":"createTrial","writer":"99-dead","seq":0,"studyId":0,"tri');
    hooks.log = [];
    await s.setStudyUserAttr(id, 'k', 1);
    expect(hooks.log).toEqual(['ftruncate', 'fdatasync', 'append']);
    await s.close();
  });

  it('when that sync fails: the write rejects with STORAGE_SYNC_FAILED, appends nothing, and the storage refuses writes', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const clean = statSync(path).size;
    appendFileSync(path, '{"op":"createTrial","writer":"99-dead","seq":0,"studyId":0,"tri');
    hooks.beforeSync = (syscall) => {
      hooks.beforeSync = null;
      throw eio(syscall);
    };
    const failed = await s.setStudyUserAttr(id, 'k', 1).catch((error: unknown) => error);
    expect(failed).toMatchObject({ code: 'STORAGE_SYNC_FAILED', cause: expect.objectContaining({ code: 'EIO' }) });
    expect((failed as Error).message).toMatch(/torn last line/);
    expect(statSync(path).size).toBe(clean);
    expect(await s.getStudyUserAttrs(id)).toEqual({});
    expect(await s.getAllStudies()).toHaveLength(1);
    await expect(s.createTrial(id)).rejects.toMatchObject({ code: 'STORAGE_SYNC_FAILED', message: expect.stringMatching(/open it again/) });
    await s.close();
  });

  it('of a failed append\'s own fragment, when that sync fails: the append\'s error, then writes refused while reads go on', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const t = await s.createTrial(id);
    const size = statSync(path).size;
    hooks.beforeWrite = (fd, buffer, offset, length) => {
      hooks.beforeWrite = null;
      realFs.writeSync(fd, buffer, offset, Math.floor(length / 2));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    hooks.beforeSync = (syscall) => {
      hooks.beforeSync = null;
      throw eio(syscall);
    };
    await expect(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] })).rejects.toMatchObject({
      code: 'STORAGE_ERROR',
      message: expect.stringMatching(/cannot append .*ENOSPC/),
    });
    expect(statSync(path).size).toBe(size);
    expect((await s.getTrial(t.trialId)).state).toBe('RUNNING');
    await expect(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [2] })).rejects.toMatchObject({ code: 'STORAGE_SYNC_FAILED' });
    await s.close();
  });

  it('when that sync fails at open: the journal opens for reading and refuses writes', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    await s.close();
    appendFileSync(path, '{"op":"createTrial","writer":"99-dead","seq":0,"studyId":0,"tri');
    hooks.beforeSync = (syscall) => {
      hooks.beforeSync = null;
      throw eio(syscall);
    };
    const reopened = new JournalStorage({ path });
    expect(await reopened.getStudyName(id)).toBe('s');
    await expect(reopened.createTrial(id)).rejects.toMatchObject({ code: 'STORAGE_SYNC_FAILED' });
    await reopened.close();
  });
});

describe('the fsync of the directory when the first record creates the journal', () => {
  // Errors that say this directory cannot be opened or fsynced here, not that data was lost: the
  // directory entry then stays unsynced, as on file systems that offer nothing more.
  const unsupported: readonly [string, 'open' | 'fsync', string][] = [
    ['EACCES', 'open', 'a directory this process may write but not read (mode 0300)'],
    ['EPERM', 'open', 'a directory this process may not open'],
    ['EISDIR', 'open', 'a system that opens no directory as a file'],
    ['EINVAL', 'fsync', 'Linux on CIFS and some FUSE or network file systems'],
    ['EBADF', 'fsync', 'NetBSD and AIX: no fsync of a descriptor opened read-only'],
    ['EISDIR', 'fsync', 'HP-UX'],
    ['EPERM', 'fsync', 'Windows: FlushFileBuffers on a directory handle'],
    ['ENOTSUP', 'fsync', 'a file system without directory sync'],
  ];
  for (const [code, syscall, where] of unsupported) {
    it(`is skipped when ${syscall} fails with ${code} (${where})`, async () => {
      const path = freshPath();
      const s = new JournalStorage({ path });
      const dir = realFs.realpathSync(root);
      if (syscall === 'open') {
        hooks.beforeOpen = (p) => {
          if (p === dir) throw sysError(code, 'open');
        };
      } else {
        hooks.beforeSync = (name) => {
          if (name === 'fsync') throw sysError(code, 'fsync');
        };
      }
      const id = await s.createStudy('s', ['minimize']);
      expect((await s.createTrial(id)).number).toBe(0);
      await s.close();
    });
  }

  // Errors that say the directory entry, or data, may not be on disk: the storage is poisoned.
  const failures: readonly [string, 'open' | 'fsync'][] = [
    ['EIO', 'fsync'],
    ['ENOSPC', 'fsync'],
    ['EDQUOT', 'fsync'],
    ['EROFS', 'fsync'],
    ['EIO', 'open'],
    ['EMFILE', 'open'],
  ];
  for (const [code, syscall] of failures) {
    it(`fails with STORAGE_SYNC_FAILED when ${syscall} fails with ${code}`, async () => {
      const path = freshPath();
      const s = new JournalStorage({ path });
      const dir = realFs.realpathSync(root);
      if (syscall === 'open') {
        hooks.beforeOpen = (p) => {
          if (p === dir) throw sysError(code, 'open');
        };
      } else {
        hooks.beforeSync = (name) => {
          if (name === 'fsync') throw sysError(code, 'fsync');
        };
      }
      const failed = await s.createStudy('s', ['minimize']).catch((error: unknown) => error);
      expect(failed).toMatchObject({ code: 'STORAGE_SYNC_FAILED', cause: expect.objectContaining({ code }) });
      expect((failed as Error).message).toContain(code);
      await expect(s.createStudy('t', ['minimize'])).rejects.toMatchObject({ code: 'STORAGE_SYNC_FAILED' });
      await s.close();
    });
  }
});

describe('directories the storage creates for a new journal', () => {
  // A journal's entry in its directory is synced with its first record; a directory created for it
  // is itself an entry of its parent, which must be synced as well, or a power loss can take the
  // whole directory, and the records acknowledged in it, away.
  it('are synced in their parents, with the journal\'s directory, before its first write is acknowledged', async () => {
    const top = join(root, `new${n++}`);
    const path = join(top, 'a', 'b', 'j.journal');
    const opened: string[] = [];
    hooks.beforeOpen = (p, flags) => {
      if (flags === 'r' && realFs.statSync(p, { throwIfNoEntry: false })?.isDirectory() === true) opened.push(p);
    };
    hooks.log = [];
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    expect([...opened].sort()).toEqual([root, top, join(top, 'a'), join(top, 'a', 'b')].sort());
    expect(hooks.log.filter((c) => c === 'fsync')).toHaveLength(4);
    // Once: later writes sync no directory.
    opened.length = 0;
    const t = await s.createTrial(id);
    await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] });
    expect(opened).toEqual([]);
    await s.close();
  });

  it('are synced at this storage\'s first write even when another storage wrote the journal\'s first record', async () => {
    const top = join(root, `new${n++}`);
    const path = join(top, 'j.journal');
    const creator = new JournalStorage({ path });
    const other = new JournalStorage({ path });
    const id = await other.createStudy('s', ['minimize']);
    const opened: string[] = [];
    hooks.beforeOpen = (p, flags) => {
      if (flags === 'r' && realFs.statSync(p, { throwIfNoEntry: false })?.isDirectory() === true) opened.push(p);
    };
    await creator.createTrial(id);
    expect(opened).toEqual([root]);
    await creator.close();
    await other.close();
  });

  it('that fail to sync in their parent poison the storage as a failed sync of the journal\'s directory does', async () => {
    const top = join(root, `new${n++}`);
    const path = join(top, 'j.journal');
    const s = new JournalStorage({ path });
    let parentOpened = false;
    hooks.beforeOpen = (p, flags) => {
      if (flags === 'r' && p === root) parentOpened = true; // the next fsync is the parent's
    };
    hooks.beforeSync = (syscall) => {
      if (syscall === 'fsync' && parentOpened) throw sysError('EIO', 'fsync');
    };
    const failed = await s.createStudy('s', ['minimize']).catch((error: unknown) => error);
    expect(failed).toMatchObject({ code: 'STORAGE_SYNC_FAILED', message: expect.stringContaining(`fsync of the directory ${root}`) });
    await s.close();
  });
});
