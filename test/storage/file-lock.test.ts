/**
 * `FileLock` ownership and stale-lock breaking, made deterministic: a lock file is aged with
 * utimes (as if its holder had been frozen for longer than `staleMs`), and a "frozen" moment inside
 * one holder is simulated by a hook that runs just before that holder removes or moves a given
 * file, during which the other "process" (a second `FileLock` on the same path) acts. No sleeps.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { FileLock } from '../../src/storage/file-lock.js';
import { JournalStorage } from '../../src/storage/journal-storage.js';
import { StorageState } from '../../src/storage/storage-state.js';
import { currentProcessIdentity } from '../../src/util/process-identity.js';
import { resetWarnOnce } from '../../src/util/warn.js';
import { NO_SUCH_PID, lockLine } from './fixtures/lock-line.js';

/** Runs `hook.before(path)` just before any unlinkSync/renameSync of `path` (the code under test's). */
const hook = vi.hoisted(() => ({ before: null as null | ((path: string) => void) }));

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return {
    ...actual,
    unlinkSync: (path: string): void => {
      hook.before?.(String(path));
      actual.unlinkSync(path);
    },
    renameSync: (from: string, to: string): void => {
      hook.before?.(String(from));
      actual.renameSync(from, to);
    },
  };
});

/** Arms a one-shot hook: `action` runs once, just before the first removal or move of `path`. */
function onceBeforeRemoving(path: string, action: () => void): void {
  hook.before = (p) => {
    if (p !== path) return;
    hook.before = null;
    action();
  };
}

const me = currentProcessIdentity();
const root = mkdtempSync(join(tmpdir(), 'kestrel-lock-'));
let counter = 0;
function freshLockPath(): string {
  return join(root, `l${counter++}.lock`);
}

afterEach(() => {
  hook.before = null;
  vi.restoreAllMocks();
  resetWarnOnce();
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Sets a file's times an hour back: older than any `staleMs` used here. */
function age(path: string): void {
  const past = (Date.now() - 3_600_000) / 1000;
  utimesSync(path, past, past);
}

/**
 * Rewrites a lock (or break) file held by this process, in place (same inode: still its holding),
 * as an earlier version's `pid host token` line, which names no PID namespace: its holder then
 * cannot be judged, as one in another container, and only age breaks it. (A lock that names a live
 * process of this machine is never broken, so a "frozen holder" here must be an unjudgeable one.)
 */
function unjudgeable(path: string): void {
  writeFileSync(path, `${process.pid} ${hostname()} unjudgeable-0\n`);
}

function lock(lockPath: string): FileLock {
  return new FileLock({ lockPath, staleMs: 1_000, timeoutMs: 100 });
}

/** Files beside the lock other than the lock itself (no `.aside` leftovers, no break file). */
function leftovers(lockPath: string): string[] {
  const base = lockPath.slice(root.length + 1);
  return readdirSync(root).filter((name) => name.startsWith(base) && name !== base);
}

describe('FileLock ownership', () => {
  it('a holder frozen past staleMs finds its lock taken over and leaves the new holder\'s lock alone', () => {
    const path = freshLockPath();
    const a = lock(path);
    const b = lock(path);
    expect(a.tryAcquire()).toBe(true);
    expect(() => a.assertHeld()).not.toThrow();
    unjudgeable(path); // a runs where b cannot check it (another container)...
    age(path); // ...and is "frozen" for longer than staleMs...
    expect(b.tryAcquire()).toBe(true); // ...so b breaks its lock by age and takes it
    const bContent = readFileSync(path, 'utf8');

    // a resumes: it no longer owns the lock and must not write...
    expect(() => a.assertHeld()).toThrow(StorageError);
    expect(() => a.assertHeld()).toThrow(/lost the lock/);
    // ...and its release must not delete b's lock.
    a.release();
    expect(readFileSync(path, 'utf8')).toBe(bContent);
    expect(b.isHeld).toBe(true);
    expect(() => b.assertHeld()).not.toThrow();
    const c = lock(path);
    expect(c.tryAcquire()).toBe(false); // still b's, fresh: nobody else gets in
    b.release();
    expect(existsSync(path)).toBe(false);
    expect(c.tryAcquire()).toBe(true);
    c.release();
    expect(leftovers(path)).toEqual([]);
  });

  it('a breaker frozen before removing the stale lock does not remove the fresh lock taken meanwhile', () => {
    const path = freshLockPath();
    writeFileSync(path, '123 some-other-host stale-0\n');
    age(path);
    const w1 = lock(path);
    const w2 = lock(path);
    // w1 judges the lock stale, takes the break file and re-reads the lock; just before it removes
    // it, it is frozen past staleMs. Meanwhile w2 finds w1's break file stale, breaks the stale
    // lock itself and takes the lock.
    onceBeforeRemoving(path, () => {
      unjudgeable(`${path}.break`); // w1 runs where w2 cannot check it (another container)
      age(`${path}.break`);
      expect(w2.tryAcquire()).toBe(true);
    });
    expect(w1.tryAcquire()).toBe(false); // w1 resumes: the lock is w2's, fresh
    expect(hook.before).toBe(null); // the hook did run
    expect(w2.isHeld).toBe(true);
    expect(() => w2.assertHeld()).not.toThrow();
    expect(readFileSync(path, 'utf8')).toMatch(new RegExp(`^${process.pid} `));
    w2.release();
    expect(existsSync(path)).toBe(false);
    expect(leftovers(path)).toEqual([]);
  });

  it('two waiters that both judged the break file stale do not both take it', () => {
    const path = freshLockPath();
    const breakPath = `${path}.break`;
    const staleLock = '123 some-other-host stale-0\n';
    writeFileSync(path, staleLock);
    age(path);
    writeFileSync(breakPath, '123 some-other-host stale-break-0\n'); // a breaker that died in it
    age(breakPath);
    const w3 = lock(path);
    // w3 judges the break file stale; just before it removes it, another waiter (w2) removes the
    // same stale break file and takes the break file itself (it is now in the middle of breaking).
    const w2Break = `${process.pid} ${hostname()} w2-0\n`;
    onceBeforeRemoving(breakPath, () => {
      rmSync(breakPath);
      writeFileSync(breakPath, w2Break, { flag: 'wx' });
    });
    expect(w3.tryAcquire()).toBe(false);
    expect(hook.before).toBe(null);
    // w2's break file is intact: w3 did not remove it, so w3 never held the break file too, and
    // the stale lock is still there for w2 to remove.
    expect(readFileSync(breakPath, 'utf8')).toBe(w2Break);
    expect(readFileSync(path, 'utf8')).toBe(staleLock);
    rmSync(breakPath);
    // Once the break file is free, the stale lock is broken as before.
    expect(w3.tryAcquire()).toBe(true);
    w3.release();
    expect(leftovers(path)).toEqual([]);
  });

  it('a break file left by a live breaker waits for staleMs', () => {
    const path = freshLockPath();
    const breakPath = `${path}.break`;
    writeFileSync(path, '123 some-other-host stale-0\n');
    age(path);
    const w = lock(path);
    // A live breaker (this process), fresh: w waits.
    writeFileSync(breakPath, `${process.pid} ${hostname()} live-breaker-0\n`);
    expect(w.tryAcquire()).toBe(false);
    expect(existsSync(breakPath)).toBe(true);
    // The same, older than staleMs: broken by age.
    age(breakPath);
    expect(w.tryAcquire()).toBe(true);
    w.release();
    expect(leftovers(path)).toEqual([]);
  });

  it.runIf(me !== null)('a break file of a live breaker of this machine (a stopped one) is still broken after staleMs', () => {
    // Unlike the lock, the break file protects nothing a resumed breaker could spoil (its removal
    // of the stale lock is checked by rename), so a stopped breaker must not block every writer.
    const path = freshLockPath();
    const breakPath = `${path}.break`;
    writeFileSync(path, '123 some-other-host stale-2\n');
    age(path);
    writeFileSync(breakPath, lockLine(me!, 'stopped-breaker-0'));
    const w = lock(path);
    expect(w.tryAcquire()).toBe(false); // fresh: w waits
    age(breakPath);
    expect(w.tryAcquire()).toBe(true);
    w.release();
    expect(leftovers(path)).toEqual([]);
  });

  it.runIf(me !== null)('a break file left by a breaker that has exited (this host, boot and PID namespace) is removed at once', () => {
    const path = freshLockPath();
    const breakPath = `${path}.break`;
    writeFileSync(path, '123 some-other-host stale-1\n');
    age(path);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(breakPath, lockLine({ ...me!, pid: dead }, 'dead-breaker-0'));
    const w = lock(path);
    expect(w.tryAcquire()).toBe(true);
    w.release();
    expect(leftovers(path)).toEqual([]);
  });

  it('a directory where the lock file should be is a StorageError, not a bare EISDIR', async () => {
    const path = freshLockPath();
    mkdirSync(path); // e.g. left by a tool whose lock is a directory (proper-lockfile's <file>.lock)
    expect(() => lock(path).tryAcquire()).toThrow(StorageError);
    // A journal beside it still opens (for reading); its writes reject with the typed error.
    const journal = join(root, `j${counter++}.journal`);
    mkdirSync(`${journal}.lock`);
    const s = new JournalStorage({ path: journal, lockTimeoutMs: 100 });
    await expect(s.createStudy('s', ['minimize'])).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringMatching(/EISDIR/) });
    await s.close();
  });
});

describe.runIf(me !== null)("FileLock staleness by its holder's identity (Linux)", () => {
  it('breaks at once a fresh lock whose holder, of this host, boot and PID namespace, has exited', () => {
    const exited = spawnSync(process.execPath, ['-e', '0']).pid;
    for (const pid of [exited, NO_SUCH_PID]) {
      const path = freshLockPath();
      writeFileSync(path, lockLine({ ...me!, pid }, 'dead-0'));
      const w = lock(path);
      expect(w.tryAcquire()).toBe(true);
      expect(() => w.assertHeld()).not.toThrow();
      w.release();
      expect(leftovers(path)).toEqual([]);
    }
  });

  it('breaks at once a fresh lock whose pid now names a process started at another time (a reused pid)', () => {
    // This process's pid, and its parent's (alive), each with a start time that is not theirs.
    const parentStat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    const parentStart = Number(parentStat.slice(parentStat.lastIndexOf(')') + 2).split(' ')[19]);
    for (const holder of [{ ...me!, start: me!.start + 1 }, { ...me!, pid: process.ppid, start: parentStart + 1 }]) {
      const path = freshLockPath();
      writeFileSync(path, lockLine(holder, 'reused-0'));
      const w = lock(path);
      expect(w.tryAcquire()).toBe(true);
      w.release();
      expect(leftovers(path)).toEqual([]);
    }
    // The parent with its own start time is alive: its lock is kept.
    const path = freshLockPath();
    writeFileSync(path, lockLine({ ...me!, pid: process.ppid, start: parentStart }, 'parent-0'));
    expect(lock(path).tryAcquire()).toBe(false);
  });

  it('keeps a fresh lock whose holder it cannot judge (another PID namespace, boot or host) until staleMs', () => {
    // Two containers of one pod share the host name and the volume, not their pids: a pid that is
    // dead (or another process) here may be the live writer there.
    const holders = [
      { ...me!, pid: NO_SUCH_PID, pidNs: 'pid:[1]' },
      { ...me!, pid: process.pid, start: me!.start + 1, pidNs: 'pid:[1]' },
      { ...me!, pid: NO_SUCH_PID, boot: 'another-boot' },
      { ...me!, pid: NO_SUCH_PID, host: 'elsewhere' },
    ];
    for (const holder of holders) {
      const path = freshLockPath();
      const content = lockLine(holder, 'other-ns-0');
      writeFileSync(path, content);
      const w = lock(path);
      expect(w.tryAcquire(), JSON.stringify(holder)).toBe(false);
      expect(readFileSync(path, 'utf8')).toBe(content);
      age(path); // older than staleMs: broken by age
      expect(w.tryAcquire()).toBe(true);
      w.release();
      expect(leftovers(path)).toEqual([]);
    }
  });

  it("keeps until staleMs a lock that names no identity: an earlier version's `pid host token`, or a line cut short", () => {
    const full = lockLine({ ...me!, pid: NO_SUCH_PID }, 'cut-0');
    const contents = [
      `${NO_SUCH_PID} ${hostname()} old-format-0\n`, // written by an earlier version: which namespace?
      full.slice(0, -2), // read while being written: the start time cut short could be any number
      `${full.slice(0, -1)} more\n`,
      '',
    ];
    for (const content of contents) {
      const path = freshLockPath();
      writeFileSync(path, content);
      const w = lock(path);
      expect(w.tryAcquire(), content).toBe(false);
      age(path);
      expect(w.tryAcquire()).toBe(true);
      w.release();
    }
  });

  it.runIf(me !== null)('never breaks by age the lock of a live process of this machine (a stopped one): waiters time out instead', async () => {
    // A holder stopped (SIGSTOP, a suspended machine) past staleMs is alive: once it resumes it
    // goes on to write what it prepared under the lock. Breaking its lock let another writer append
    // meanwhile, and the resumed write then corrupted the journal (a createTrial with a stale id).
    const path = freshLockPath();
    const a = lock(path);
    expect(a.tryAcquire()).toBe(true);
    age(path);
    const b = lock(path);
    expect(b.tryAcquire()).toBe(false);
    await expect(b.acquire()).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringMatching(/timed out .*alive/) });
    expect(() => a.assertHeld()).not.toThrow();
    a.release();
    expect(b.tryAcquire()).toBe(true);
    b.release();
    expect(leftovers(path)).toEqual([]);
  });

  it('writes `pid host token` then its identity, and a lock of this live process is never broken before staleMs', () => {
    const path = freshLockPath();
    const a = lock(path);
    expect(a.tryAcquire()).toBe(true);
    const content = readFileSync(path, 'utf8');
    // An earlier version reads the first two fields as before.
    const [pid, host, token] = content.split(' ');
    expect([pid, host]).toEqual([String(process.pid), hostname()]);
    expect(content).toBe(lockLine(me!, token));
    expect(lock(path).tryAcquire()).toBe(false);
    a.release();
    expect(leftovers(path)).toEqual([]);
  });
});

describe('JournalStorage under a lost lock', () => {
  function trialRecord(trialId: number): string {
    const record = { op: 'createTrial', writer: 'other', seq: 0, studyId: 0, trialId, t: 1, template: { state: 'RUNNING' } };
    return `${JSON.stringify(record)}\n`;
  }

  it('a writer frozen past lockStaleMs after validating its op refuses to append it', async () => {
    const path = join(root, `j${counter++}.journal`);
    const lockPath = `${path}.lock`;
    const a = new JournalStorage({ path, lockStaleMs: 1_000 });
    const id = await a.createStudy('s', ['minimize']);
    const other = lock(lockPath);
    const original = StorageState.prototype.createTrial;
    // a has taken the lock, caught up and assigned trial id 0; then it is frozen past
    // lockStaleMs. Another process breaks the lock by age, appends its own trial 0 and is still
    // holding the lock when a resumes.
    vi.spyOn(StorageState.prototype, 'createTrial').mockImplementationOnce(function (this: StorageState, ...args) {
      const trial = original.apply(this, args);
      unjudgeable(lockPath); // a runs where the other process cannot check it (another container)
      age(lockPath);
      expect(other.tryAcquire()).toBe(true);
      appendFileSync(path, trialRecord(trial.trialId));
      return trial;
    });
    await expect(a.createTrial(id)).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringMatching(/lost the lock/) });
    // a did not delete the other process's lock, which it still holds.
    expect(existsSync(lockPath)).toBe(true);
    expect(() => other.assertHeld()).not.toThrow();
    other.release();

    // The journal replays: one trial, the other process's. a's view was rebuilt and it goes on.
    const fresh = new JournalStorage({ path });
    expect(await fresh.getNTrials(id)).toBe(1);
    await fresh.close();
    expect(await a.getNTrials(id)).toBe(1);
    expect((await a.createTrial(id)).number).toBe(1);
    await a.close();
    const again = new JournalStorage({ path });
    expect(await again.getNTrials(id)).toBe(2);
    await again.close();
    expect(leftovers(lockPath)).toEqual([]);
  });

  it('a writer whose lock was broken and released meanwhile refuses to append too', async () => {
    const path = join(root, `j${counter++}.journal`);
    const lockPath = `${path}.lock`;
    const a = new JournalStorage({ path, lockStaleMs: 1_000 });
    const id = await a.createStudy('s', ['minimize']);
    const original = StorageState.prototype.createTrial;
    vi.spyOn(StorageState.prototype, 'createTrial').mockImplementationOnce(function (this: StorageState, ...args) {
      const trial = original.apply(this, args);
      unjudgeable(lockPath); // a runs where the other process cannot check it (another container)
      age(lockPath);
      const other = lock(lockPath);
      expect(other.tryAcquire()).toBe(true);
      appendFileSync(path, trialRecord(trial.trialId));
      other.release();
      return trial;
    });
    await expect(a.createTrial(id)).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringMatching(/lost the lock/) });
    const fresh = new JournalStorage({ path });
    expect(await fresh.getNTrials(id)).toBe(1); // not STORAGE_CORRUPT (two records for trial 0)
    await fresh.close();
    await a.close();
  });
});
