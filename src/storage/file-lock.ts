/**
 * `FileLock`: a cross-process lock on one machine, held for microseconds around each journal write.
 *
 * Why not proper-lockfile: measured here, its `lockSync` + `unlockSync` cycle costs ~370 us (mkdir,
 * a utimes + stat probe on every sync acquisition, a refresh timer, rmdir), which alone would cap
 * the journal below 1,400 ask+tell per second; and its stale-lock removal lets two waiters that
 * both judged the same lock stale remove each other's fresh lock.
 *
 * Protocol (`<journal>.lock` is a regular file):
 * - acquire: create the lock file with O_CREAT|O_EXCL and write one line into it,
 *   `pid host token boot=<boot id> pidns=<PID namespace> start=<start time>\n`: the token
 *   (random, then a counter) tells holdings apart, and the rest is the holder's `ProcessIdentity`
 *   (src/util/process-identity.ts; where this process has none, not Linux, the line ends after
 *   the token). The first two fields are those an earlier version wrote and reads. The holder
 *   keeps the file open while it holds the lock, so its inode (dev, ino) cannot be reused and
 *   names this holding alone;
 * - a lock is stale when `ownerState` finds its holder gone for sure (same host, boot and PID
 *   namespace, and no process with that pid, a zombie, or one started at another time: a
 *   SIGKILLed holder is detected at once, a reused pid does not keep its lock). A lock whose
 *   holder `ownerState` finds alive is never stale, however old: a stopped process (SIGSTOP, a
 *   suspended machine or container) resumes where it was, possibly just after `assertHeld()`, and
 *   writes what it prepared under the lock; breaking its lock by age let another writer append
 *   meanwhile, and the resumed write then corrupted the journal (seen with 3 writers and random
 *   SIGSTOPs of 0.2-1 s against a 300 ms `staleMs`: a createTrial 110 lines late, with a trial id
 *   replay rejects). Waiters time out instead (`timeoutMs`). (A break file, below, guards nothing
 *   a resumed holder could spoil: one older than `staleMs` is stale whoever holds it.) A lock is
 *   also stale when it is older than `staleMs` and its holder cannot be judged. Age alone judges
 *   every such lock: a holder on another host, boot or
 *   PID namespace (two containers of one pod share a host name and the volume, not their pids: a
 *   pid dead here may be a live writer there), a reader without an identity (not Linux), a line
 *   in an earlier version's format `pid host token` (which does not say its PID namespace, so its
 *   pid is never trusted: a killed holder of that version is waited out), and a file left empty
 *   or cut short by a holder killed between create and write. A live holder never keeps the lock
 *   longer than one synchronous write, so age alone misjudges such a one only when its process is
 *   frozen (SIGSTOP, a suspended VM) for `staleMs`;
 * - ownership: such a holder may find, when it resumes, that its lock was broken and another
 *   process holds the lock. So a holder calls `assertHeld()` (one stat: is `<journal>.lock` still
 *   our inode?) just before it writes, and refuses to write (`StorageError`, "lost the lock") when
 *   it is not;
 * - removing a file of this protocol (release, breaking a stale lock, breaking a stale break file)
 *   never unlinks by name what it has only looked at: it renames the file to a unique name beside
 *   it (atomic: whatever was moved is now ours to judge), checks that the moved file is the one it
 *   meant (same dev, ino, mtime and content), and deletes it, or else puts it back with link(2),
 *   which never replaces a file created meanwhile. So a release by a holder whose lock was taken
 *   over, or a breaker that was frozen, cannot delete the next holder's lock;
 * - breaking a stale lock takes a second lock, `<journal>.lock.break` (O_EXCL too, with a token,
 *   stale by the same rules), so that normally one waiter breaks while the others wait; the
 *   rename-and-check removal above is what keeps a fresh lock safe even if two waiters break at once.
 *
 * What is left: (1) a holder that cannot be judged (another host, container or PID namespace, an
 * earlier version's lock) frozen for `staleMs` between `assertHeld()` and its write(2) still writes
 * once under a lock it no longer holds, which can corrupt the journal (only a lock the kernel
 * drops, flock or fcntl, would close that, and Node has neither); a frozen process stops inside a
 * system call as readily as between two, so that window is wider than its few microseconds of
 * code suggest. (2) When a file moved by mistake (only a frozen process does
 * that) cannot be put back because a new lock was created in the microseconds between, its owner
 * finds its lock lost and refuses to write. (3) A process killed between a rename and the unlink
 * that follows leaves a `<journal>.lock.<hex>.aside` file; it is never read and can be deleted.
 */
import {
  closeSync,
  fstatSync,
  linkSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { StorageError } from '../errors.js';
import { currentProcessIdentity, ownerState, type ProcessIdentity } from '../util/process-identity.js';
import { warnOnce } from '../util/warn.js';

export interface FileLockOptions {
  /** Path of the lock file. */
  readonly lockPath: string;
  /** Age after which a lock is considered abandoned (ms). */
  readonly staleMs: number;
  /** How long `acquire` waits before it rejects (ms). */
  readonly timeoutMs: number;
}

/** A lock (or break) file as it was seen: its identity, its mtime and its content. */
interface LockInfo {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly mtimeNs: bigint;
  readonly mtimeMs: number;
  readonly content: string;
}

/** A file this process created and holds open. */
interface Holding {
  readonly fd: number;
  readonly dev: bigint;
  readonly ino: bigint;
}

const HOST = hostname();
const MAX_DELAY_MS = 8;
/** Codes of link(2) on a file system without hard links. */
const NO_LINK_CODES: ReadonlySet<string> = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

export class FileLock {
  readonly lockPath: string;
  private readonly breakPath: string;
  private readonly staleMs: number;
  private readonly timeoutMs: number;
  private readonly tokenPrefix = `${process.pid} ${HOST} ${randomBytes(4).toString('hex')}-`;
  private readonly identitySuffix = identityFields(currentProcessIdentity());
  private counter = 0;
  private holding: Holding | null = null;

  constructor(options: FileLockOptions) {
    this.lockPath = options.lockPath;
    this.breakPath = `${options.lockPath}.break`;
    this.staleMs = options.staleMs;
    this.timeoutMs = options.timeoutMs;
  }

  /** Whether this object believes it holds the lock (see `assertHeld` for whether it still does). */
  get isHeld(): boolean {
    return this.holding !== null;
  }

  /** Takes the lock if it is free (breaking it first if it is stale). Synchronous. */
  tryAcquire(): boolean {
    if (this.holding !== null) throw new StorageError(`lock ${this.lockPath} is already held by this process`);
    // At most: create, break a stale break file, create, break the stale lock, create.
    for (let attempt = 0; attempt < 3; attempt++) {
      const created = this.create(this.lockPath);
      if (created !== null) {
        this.holding = created;
        return true;
      }
      const info = this.inspect(this.lockPath);
      if (info === null) continue; // released meanwhile: try again at once
      const why = this.staleness(info);
      if (why === null) return false;
      this.breakStale(info, why);
    }
    return false;
  }

  /** Waits for the lock (polling with a capped, jittered backoff) up to `timeoutMs`. */
  async acquire(): Promise<void> {
    if (this.tryAcquire()) return;
    const deadline = Date.now() + this.timeoutMs;
    let delay = 0.5;
    for (;;) {
      await sleep(delay * (1 + Math.random()));
      if (this.tryAcquire()) return;
      if (Date.now() > deadline) {
        const info = this.inspect(this.lockPath);
        const holder = info === null ? null : lockHolder(info.content);
        throw new StorageError(
          `timed out after ${this.timeoutMs} ms waiting for the lock ${this.lockPath}` +
            (info === null ? '' : ` (held by "${info.content.trim()}")`) +
            (holder !== null && ownerState(holder) === 'alive'
              ? `; its holder, pid ${holder.pid}, is alive on this machine (stopped? suspended?) and its lock is never taken from it`
              : ''),
        );
      }
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }

  /**
   * Throws `StorageError` unless the lock file is still the one this object created: call it just
   * before writing what the lock protects. It fails when this process held the lock for longer than
   * `staleMs` (frozen) and another process broke it.
   */
  assertHeld(): void {
    const holding = this.holding;
    if (holding === null) throw new StorageError(`the lock ${this.lockPath} is not held by this process`);
    let stat: BigIntStats | undefined;
    try {
      stat = statSync(this.lockPath, { bigint: true, throwIfNoEntry: false });
    } catch (error) {
      throw new StorageError(`cannot read the lock file ${this.lockPath}: ${messageOf(error)}`, { cause: error });
    }
    if (stat !== undefined && stat.dev === holding.dev && stat.ino === holding.ino) return;
    throw new StorageError(
      `lost the lock ${this.lockPath}: this process held it for longer than lockStaleMs (${this.staleMs} ms; ` +
        `was it frozen or blocked?) and another process broke it; nothing was written`,
    );
  }

  /** Releases the lock; removes the lock file only if it is still ours (warns when it was not). */
  release(): void {
    const holding = this.holding;
    if (holding === null) return;
    this.holding = null;
    let removed: boolean;
    try {
      removed = this.removeIf(this.lockPath, (moved) => isHolding(moved, holding), false);
    } finally {
      closeSync(holding.fd);
    }
    if (!removed) {
      warnOnce(
        'JOURNAL_LOCK_LOST',
        `the lock ${this.lockPath} was broken by another process while this process held it for longer than ` +
          `lockStaleMs (${this.staleMs} ms); the other process's lock was left in place`,
      );
    }
  }

  /** Creates `path` with O_EXCL and writes a token into it; null when it exists. Kept open. */
  private create(path: string): Holding | null {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (error) {
      if (codeOf(error) === 'EEXIST') return null;
      throw new StorageError(`cannot create the lock file ${path}: ${messageOf(error)}`, { cause: error });
    }
    try {
      writeSync(fd, `${this.tokenPrefix}${this.counter++}${this.identitySuffix}\n`);
      const stat = fstatSync(fd, { bigint: true });
      return { fd, dev: stat.dev, ino: stat.ino };
    } catch (error) {
      const stat = fstatQuiet(fd);
      if (stat !== null) this.removeIf(path, (moved) => isHolding(moved, stat), false);
      closeSync(fd);
      throw new StorageError(`cannot write the lock file ${path}: ${messageOf(error)}`, { cause: error });
    }
  }

  /**
   * Why a lock (or break file) is stale: its holder is gone for sure, or it is older than
   * `staleMs` (see the file comment); null while it is not. `isLock` false (a break file): a live
   * holder is judged by age too, as the break file guards nothing a resumed breaker could spoil
   * (its removal of the lock is checked by rename), and a stopped breaker must not block every
   * writer.
   */
  private staleness(info: LockInfo, isLock = true): string | null {
    const holder = lockHolder(info.content);
    const state = holder === null ? 'unknown' : ownerState(holder);
    if (state === 'gone') return `its holder (pid ${holder?.pid}) has exited while holding it`;
    // Alive (stopped, or on a suspended machine): it will go on with the write it prepared under the
    // lock once it resumes, after `assertHeld` perhaps, so breaking its lock can corrupt the journal.
    if (state === 'alive' && isLock) return null;
    const age = Date.now() - info.mtimeMs;
    if (age > this.staleMs) {
      return `it was ${Math.round(age)} ms old, older than lockStaleMs (${this.staleMs} ms): its holder, which cannot be checked from here (another host, container or Kestrel version, or a lock line cut short), is taken to be gone`;
    }
    return null;
  }

  private breakStale(seen: LockInfo, why: string): void {
    const breaking = this.create(this.breakPath);
    if (breaking === null) {
      // Another waiter is breaking, or one died or froze doing it: remove its break file if stale.
      const info = this.inspect(this.breakPath);
      if (info !== null && this.staleness(info, false) !== null) this.removeIf(this.breakPath, (moved) => sameFile(moved, info));
      return;
    }
    try {
      if (this.removeIf(this.lockPath, (moved) => sameFile(moved, seen))) {
        warnOnce(
          'JOURNAL_STALE_LOCK',
          `removed the stale lock ${this.lockPath} ("${seen.content.trim() || 'empty'}"): ${why}`,
        );
      }
    } finally {
      try {
        this.removeIf(this.breakPath, (moved) => isHolding(moved, breaking), false);
      } finally {
        closeSync(breaking.fd);
      }
    }
  }

  /**
   * Removes `path` if it is the file `expected` accepts: renames it aside to a unique name, checks
   * the moved file, then deletes it, or puts it back (link(2): never over a file created meanwhile)
   * and deletes the aside name. Returns whether it removed the expected file. `withContent` false:
   * `expected` looks at the identity only, so the content is not read.
   */
  private removeIf(path: string, expected: (moved: LockInfo) => boolean, withContent = true): boolean {
    const aside = `${path}.${randomBytes(6).toString('hex')}.aside`;
    try {
      renameSync(path, aside);
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return false;
      throw new StorageError(`cannot remove the lock file ${path}: ${messageOf(error)}`, { cause: error });
    }
    const moved = this.inspect(aside, withContent);
    if (moved !== null && expected(moved)) {
      unlinkQuiet(aside);
      return true;
    }
    // Not the file we meant (only a frozen process gets here): put it back.
    try {
      linkSync(aside, path);
    } catch (error) {
      const code = codeOf(error);
      if (code !== undefined && NO_LINK_CODES.has(code)) {
        // No hard links on this file system: rename back, unless a new file is already there.
        if (this.inspect(path) === null) {
          renameSync(aside, path);
          return false;
        }
      } else if (code !== 'EEXIST') {
        throw new StorageError(`cannot restore the lock file ${path}: ${messageOf(error)}`, { cause: error });
      }
      // EEXIST: a new lock was taken in between; the moved file's owner will find its lock lost.
    }
    unlinkQuiet(aside);
    return false;
  }

  private inspect(path: string, withContent = true): LockInfo | null {
    if (!withContent) {
      let stat: BigIntStats | undefined;
      try {
        stat = statSync(path, { bigint: true, throwIfNoEntry: false });
      } catch (error) {
        throw new StorageError(`cannot read the lock file ${path}: ${messageOf(error)}`, { cause: error });
      }
      if (stat === undefined) return null;
      return { dev: stat.dev, ino: stat.ino, mtimeNs: stat.mtimeNs, mtimeMs: Number(stat.mtimeNs / 1_000_000n), content: '' };
    }
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return null;
      throw new StorageError(`cannot read the lock file ${path}: ${messageOf(error)}`, { cause: error });
    }
    try {
      const stat = fstatSync(fd, { bigint: true });
      const buffer = Buffer.alloc(256);
      const n = readSync(fd, buffer, 0, buffer.length, 0);
      return {
        dev: stat.dev,
        ino: stat.ino,
        mtimeNs: stat.mtimeNs,
        mtimeMs: Number(stat.mtimeNs / 1_000_000n),
        content: buffer.toString('utf8', 0, n),
      };
    } catch (error) {
      // Linux opens a directory for reading and fails only at the read (EISDIR): a directory at
      // the lock path (some lock tools make `<file>.lock` one) is an error of this lock, not a crash.
      throw new StorageError(`cannot read the lock file ${path}: ${messageOf(error)}`, { cause: error });
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * ` boot=<boot> pidns=<PID namespace> start=<start>`, the fields a lock line carries after its
 * token; empty without an identity, or with one whose fields would not read back as one field each.
 */
function identityFields(identity: ProcessIdentity | null): string {
  if (identity === null) return '';
  const fields = [`boot=${identity.boot}`, `pidns=${identity.pidNs}`, `start=${identity.start}`];
  return fields.some((field) => /\s/.test(field)) ? '' : ` ${fields.join(' ')}`;
}

/**
 * The holder a lock (or break) file names: the `ProcessIdentity` of a complete line of this
 * version's format, else null (an earlier version's `pid host token`, an empty file, a line cut
 * short or not ending in '\n', anything else), so that such a lock is judged by its age alone.
 */
function lockHolder(content: string): ProcessIdentity | null {
  // Only a whole line: one read while its holder writes it may end anywhere, even inside a number.
  if (!content.endsWith('\n')) return null;
  const fields = content.slice(0, -1).split(' ');
  if (fields.length !== 6) return null;
  const [pidText, host, , bootField, pidNsField, startField] = fields as [string, string, string, string, string, string];
  if (!bootField.startsWith('boot=') || !pidNsField.startsWith('pidns=') || !startField.startsWith('start=')) return null;
  const pid = decimal(pidText);
  const start = decimal(startField.slice('start='.length));
  const boot = bootField.slice('boot='.length);
  const pidNs = pidNsField.slice('pidns='.length);
  if (pid === null || pid === 0 || start === null || host === '' || boot === '' || pidNs === '') return null;
  return { pid, host, boot, pidNs, start };
}

/** A non-negative safe integer written in decimal digits only (no sign, exponent or spaces), else null. */
function decimal(text: string): number | null {
  if (!/^[0-9]{1,16}$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/** Whether `info` is the file held open as `holding` (whose inode cannot be reused meanwhile). */
function isHolding(info: LockInfo, holding: { readonly dev: bigint; readonly ino: bigint }): boolean {
  return info.dev === holding.dev && info.ino === holding.ino;
}

function sameFile(a: LockInfo, b: LockInfo): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.content === b.content;
}

function fstatQuiet(fd: number): BigIntStats | null {
  try {
    return fstatSync(fd, { bigint: true });
  } catch {
    return null;
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw new StorageError(`cannot remove ${path}: ${messageOf(error)}`, { cause: error });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function codeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
