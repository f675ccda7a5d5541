/**
 * `JournalStorage`: the embedded default storage. An append-only log of operations in one file,
 * one JSON object per line, replayed on open into a `StorageState` (the same state code as
 * `InMemoryStorage`). Safe for several processes on one machine sharing the file.
 *
 * Format (version 1):
 *
 *     {"op":"header","format":"kestrel-journal","version":1}
 *     {"op":"createStudy","writer":"4711-9f2c01","seq":0,"studyId":0,"studyName":"s","directions":["minimize"],"t":1700000000000,"crc":"89a9253c"}
 *     {"op":"createTrial","writer":"4711-9f2c01","seq":1,"studyId":0,"trialId":0,"t":...,"template":{"state":"RUNNING"},"crc":"..."}
 *     {"op":"finishTrial","writer":"4711-9f2c01","seq":2,"trialId":0,"t":...,"finish":{"state":"COMPLETE","values":[0.5],"params":{...},"distributions":{...}},"crc":"..."}
 *
 * Checksums: every record this version writes ends with the member `"crc":"<8 lowercase hex>"`,
 * the CRC-32 (ISO-HDLC, as zlib, gzip and PNG: `zlib.crc32`) of the line's UTF-8 bytes before
 * that member (above, of the createStudy line up to `"t":1700000000000`, without its `,"crc":`).
 * Replay checks it before parsing: a mismatch, a crc that is not 8 lowercase hex digits, or a
 * `crc` member that is not the last one is a corrupt line, handled as one that is not JSON
 * (below); a carriage return after the record (line ends converted to CRLF) is allowed. The header carries none (it is checked whole). A record without a crc member (written
 * before checksums, or by an earlier version sharing the file) is replayed unchecked, as before,
 * so the version stays 1: journals of earlier versions load unchanged, and earlier versions read
 * (and append to) journals of this one, ignoring the member; a version 2 that required the member
 * would have cut off both. What is left unchecked: records of earlier versions, and a record
 * whose damage both changed its content and removed its crc member while leaving valid JSON (a
 * change to the member's bytes alone fails the check or the parse, or renames the member and
 * leaves the record itself intact).
 *
 * Other ops: deleteStudy, setStudyAttr {studyId, kind: user|system, key, value}, popWaiting
 * {studyId, trialId, t}, updateTrial {trialId, update}, claim {studyId, key}. `writer` is
 * `<pid>-<random>` and `seq` counts that writer's records, so a line can be traced to a process.
 * `t` is the writer's clock (epoch ms) for the times the op sets; ids are implied by the order of
 * the records and written only for checking (createStudy, createTrial). Non-finite numbers, which
 * JSON cannot hold, appear in objective and intermediate values as the strings "NaN", "Infinity",
 * "-Infinity".
 *
 * Writing an op: take the in-process mutex, then the cross-process `FileLock` (`<path>.lock`, `path`
 * with its symlinks resolved, so that a link to the journal and its target share one lock);
 * check that `path` still names the file this object opened (a journal deleted or replaced while
 * open makes every later call reject with `StorageError`, instead of writes going into an unlinked
 * file and being lost; reads see the old view until then); catch up (read what others appended since our offset and apply it); validate the op against the
 * now-current state and apply it; check that the lock is still ours (`FileLock.assertHeld`: a
 * process frozen past `lockStaleMs` may have had it broken, where its liveness could not be
 * checked (see `FileLock`); it then writes nothing, rebuilds its
 * view from the file and rejects with `StorageError` "lost the lock"); append it with a single
 * write(2); fdatasync for createStudy, deleteStudy, finishTrial and createTrial of a finished trial
 * (the durable writes); release (which removes the lock file only if it is still ours). The other
 * writes are acknowledged unsynced (a process crash keeps them, in the page cache; a power loss may
 * not): `close()` fdatasyncs the file when one was written since the last sync.
 * A record whose JSON exceeds `MAX_LINE_BYTES` (about 512 MiB, the longest string Node can decode)
 * is refused with `StorageError` and nothing is written: once written it could never be read back.
 * Reads catch up without the lock (fstat; read only when the file grew; a last line without its
 * newline is left for later, as it may be a write in progress). Ops that would write nothing
 * (popWaiting with no WAITING trial in the caught-up view, claim of a key already claimed,
 * createTrialIfBelow on a study already at the limit) skip the lock: their answer is already final.
 * createTrialIfBelow counts the trials again under the lock and writes a plain createTrial record.
 *
 * Crash safety: a process killed mid-write leaves a torn last line without its '\n'. Replay ignores
 * it; a writer holding the lock knows no write is in progress, so it TRUNCATES the fragment (only
 * the bytes after the last '\n') and fdatasyncs the cut before appending (unsynced, a power loss
 * could bring the fragment back with the new records behind it: a corrupt line), with a
 * `JOURNAL_TORN_LINE` warning (a failure of that sync poisons the object, below); opening a
 * journal does the same when the lock is free (when the lock file cannot be created, in a directory
 * this process cannot write, the journal still opens for reading and the fragment is left alone).
 * Truncation was chosen over appending a '\n' so that the file never holds an unparsable line:
 * any complete line that is not valid JSON, or fails its checksum, is corruption (`StorageError`
 * with code STORAGE_CORRUPT and its line number), never skipped, wherever it is in the file.
 * Records before the fragment are never rewritten. An append that fails part-way (ENOSPC, EFBIG)
 * removes its own fragment the same way, still holding the lock, and rejects with `StorageError`
 * (no warning: nothing crashed).
 *
 * A new journal's entry in its directory, and the entry of each directory this object created for
 * it in its parent, are fsynced with its first record (the file's first, or this object's first
 * for the directories it made), so that a power loss cannot take away a journal whose records
 * were acknowledged.
 *
 * A failed sync (fdatasync of the file after a record or after cutting a torn line, or fsync of a
 * directory above; a directory this system or file system cannot open or fsync at all, EINVAL,
 * EBADF, EPERM..., is skipped: see `syncDirectory`) poisons the object: Linux may drop the pages it
 * could not write and clear the error, so a later sync would succeed over lost records
 * (PostgreSQL's "fsyncgate"). The failing call rejects with `StorageError` code STORAGE_SYNC_FAILED
 * naming the file and the errno (the system error as `cause`); its op is taken out of the view
 * (rebuilt from the file up to the record) and is not reported as done, though its record stays in
 * the file (a lock-free reader may have read it already) and may or may not be on disk; every later
 * write rejects with STORAGE_SYNC_FAILED, saying to open the journal again; reads answer from the
 * view as it was before that write, no longer caught up. A new `JournalStorage` on the file replays
 * what the file holds.
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, realpathSync, statSync, writeSync, fsyncSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { constants } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { InvalidOptionError, StorageError } from '../errors.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import { isFinishedState, type JsonValue, type StudyDirection } from '../trial/types.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import { warnOnce } from '../util/warn.js';
import { FileLock, codeOf, messageOf } from './file-lock.js';
import type {
  GetTrialsOptions,
  Storage,
  StudySummary,
  TrialFinish,
  TrialTemplate,
  TrialUpdate,
} from './storage.js';
import { StorageState, type AttrKind } from './storage-state.js';
import {
  checkCount,
  checkDirections,
  checkGetTrialsOptions,
  checkId,
  checkKey,
  checkKeys,
  checkStudyName,
  cloneJsonValue,
  normalizeFinish,
  normalizeTemplate,
  normalizeUpdate,
  type NormalizedUpdate,
} from './validate.js';

export const JOURNAL_FORMAT = 'kestrel-journal';
export const JOURNAL_VERSION = 1;
const HEADER_LINE = `${JSON.stringify({ op: 'header', format: JOURNAL_FORMAT, version: JOURNAL_VERSION })}\n`;
const NEWLINE = 0x0a;
/** `,"crc":"`, 8 lowercase hex digits, `"}`: how every record this version writes ends. */
const CRC_MEMBER_START = Buffer.from(',"crc":"', 'latin1');
const CRC_MEMBER_BYTES = CRC_MEMBER_START.length + 8 + 2;
/** The longest line (UTF-8 bytes, without its '\n') that can be decoded into one string. Longer records are refused. */
const MAX_LINE_BYTES = constants.MAX_STRING_LENGTH;
/** Catch-up reads the file in pieces of this size. */
const READ_CHUNK_BYTES = 64 * 1024 * 1024;

/** Options of `new JournalStorage(...)`; an unknown name throws `InvalidOptionError`. */
export interface JournalStorageOptions {
  /**
   * The journal file. Created (with its directory) when missing. It must be a regular file: a
   * directory, FIFO, device or socket at the path is a `StorageError` (a FIFO would hang a reader,
   * /dev/null would swallow every write).
   */
  readonly path: string;
  /**
   * A lock file older than this is taken to be abandoned (ms, default 10,000, at least 1), unless
   * its holder is known to be alive. On Linux, for a holder of this host, boot and PID namespace
   * (src/util/process-identity.ts), the holder's process decides, whatever this value: one that
   * has exited loses the lock at once, and a live one never loses it, even stopped (SIGSTOP, a
   * suspended machine) for longer: it would go on with its write when it resumes and could corrupt
   * the journal, so writers wait for it up to `lockTimeoutMs` instead. Any other holder (another
   * machine, container or PID namespace; a lock written by an earlier version, which names no PID
   * namespace; any holder where this process has no identity, not Linux) is judged by this age
   * alone.
   */
  readonly lockStaleMs?: number;
  /** How long a write waits for the lock before it rejects with `StorageError` (ms, default 60,000). */
  readonly lockTimeoutMs?: number;
  /**
   * Open an existing journal for reading only (default false): nothing is created, a torn last
   * line is left alone, and every write rejects with `StorageError`. Without it, a journal that
   * cannot be opened for writing (EACCES, EPERM, EROFS: a read-only file or mount) is opened
   * read-only in the same way, so archived results stay readable.
   */
  readonly readOnly?: boolean;
}

/** Every JournalStorageOptions key, checked against the interface at compile time. */
const OPTION_KEYS = optionKeys<JournalStorageOptions>()(['path', 'lockStaleMs', 'lockTimeoutMs', 'readOnly']);

const READ_ONLY_CODES: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'EROFS']);

/** What a write decided: the record to append (null: nothing to write) and its result. */
interface Prepared<T> {
  readonly record: Record<string, unknown> | null;
  readonly durable: boolean;
  readonly result: T;
}

/**
 * Trials in an append-only journal file (one JSON operation per line, replayed on open): the CLI's
 * default storage, shared safely by several processes on one machine through a lock file, fsynced
 * when a trial finishes. `createStudy({ storage: 'study.journal' })` opens one; construct it
 * yourself for `lockStaleMs`, `lockTimeoutMs` or `readOnly`. See the file header for the format.
 */
export class JournalStorage implements Storage {
  /** Absolute path of the journal file. */
  readonly path: string;
  /**
   * `path` with symbolic links resolved when it was opened (`path` itself if that failed): the file
   * every storage on it shares, and whose `.lock` they take. Two storages with the same `realPath`
   * hold the same studies (`isSameStoredStudy`).
   */
  readonly realPath: string;
  private state = new StorageState();
  private readonly lock: FileLock;
  private fd: number | null;
  /** The opened file's identity (device, inode), which `assertSameFile` compares with `path`'s. */
  private readonly opened: { readonly dev: number; readonly ino: number };
  /** Bytes of the file applied to `state`; always just after a '\n' (or 0). */
  private offset = 0;
  /** Lines applied to `state` (the header included). */
  private nLines = 0;
  private readonly writer = `${process.pid}-${randomBytes(3).toString('hex')}`;
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Set when the file could not be replayed; every later call rejects with it. */
  private failure: StorageError | null = null;
  /**
   * Set when an fdatasync/fsync failed (see `poison`): every later write rejects, and reads answer
   * from the view as it was before the failed write, which is no longer caught up.
   */
  private syncFailure: StorageError | null = null;
  /**
   * Directories whose new entries this storage made (the parents of the directories it created
   * for the journal, deepest first) and has not synced yet: its first append syncs them.
   */
  private unsyncedDirectories: readonly string[];
  /** Whether a record was appended since the file's last successful fdatasync (`close` syncs then). */
  private unsynced = false;
  /** Replay reads no byte at or past this one (set by `poison` to the start of the unsynced record). */
  private replayLimit = Infinity;
  /** Why the journal is read-only (writes reject), or null when it is writable. */
  private readonly readOnlyReason: string | null;

  constructor(options: JournalStorageOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError('options', 'an object {path, lockStaleMs?, lockTimeoutMs?, readOnly?}', options);
    }
    checkOptionsObject(options, OPTION_KEYS, 'JournalStorage', true);
    if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean') {
      throw new InvalidOptionError('readOnly', 'a boolean', options.readOnly);
    }
    if (typeof options.path !== 'string' || options.path.length === 0) {
      throw new InvalidOptionError('path', 'a non-empty file path', options.path);
    }
    const staleMs = checkMs('lockStaleMs', options.lockStaleMs, 10_000);
    const timeoutMs = checkMs('lockTimeoutMs', options.lockTimeoutMs, 60_000);
    this.path = resolve(options.path);
    const opened = openJournal(this.path, options.readOnly === true);
    // The lock beside the file itself, not beside the link: processes that reach one journal by
    // different names (a symlink and its target) must take the same lock, or their appends
    // interleave and corrupt it.
    this.realPath = realPathOf(this.path);
    this.lock = new FileLock({ lockPath: `${this.realPath}.lock`, staleMs, timeoutMs });
    this.fd = opened.fd;
    const identity = fstatSync(opened.fd);
    this.opened = { dev: identity.dev, ino: identity.ino };
    this.readOnlyReason = opened.readOnlyReason;
    // Each directory made for the journal is an entry of its parent: synced at our first write.
    this.unsyncedDirectories = opened.createdDirectories.map((dir) => dirname(dir)).reverse();
    try {
      this.catchUp(false);
      // A last line without its newline is a torn write if nobody holds the lock: clean it now.
      if (this.readOnlyReason === null && fstatSync(this.fd).size > this.offset && this.tryLockToClean()) {
        try {
          this.catchUp(true);
        } finally {
          this.lock.release();
        }
      }
    } catch (error) {
      // A failed sync of that cleanup poisons the storage (see `poison`): it opens for reading.
      if (error === this.syncFailure) return;
      closeSync(this.fd);
      this.fd = null;
      throw error;
    }
  }

  /** Whether writes are refused (opened with `readOnly`, or the file could not be opened for writing). */
  get readOnly(): boolean {
    return this.readOnlyReason !== null;
  }

  // ------------------------------------------------------------------------------------------
  // studies
  // ------------------------------------------------------------------------------------------

  createStudy(studyName: string, directions: readonly StudyDirection[]): Promise<number> {
    return this.write(() => {
      const name = checkStudyName(studyName);
      const dirs = checkDirections(directions);
      const t = Date.now();
      const studyId = this.state.createStudy(name, dirs, t);
      return {
        record: { op: 'createStudy', studyId, studyName: name, directions: dirs, t },
        durable: true,
        result: studyId,
      };
    });
  }

  deleteStudy(studyId: number): Promise<void> {
    return this.write(() => {
      const id = checkId('studyId', studyId);
      this.state.deleteStudy(id);
      return { record: { op: 'deleteStudy', studyId: id }, durable: true, result: undefined };
    });
  }

  getStudyIdFromName(studyName: string): Promise<number> {
    return this.read(() => this.state.studyIdFromName(checkStudyName(studyName)));
  }

  getStudyName(studyId: number): Promise<string> {
    return this.read(() => this.state.studyName(checkId('studyId', studyId)));
  }

  getStudyDirections(studyId: number): Promise<readonly StudyDirection[]> {
    return this.read(() => this.state.directions(checkId('studyId', studyId)));
  }

  getAllStudies(): Promise<readonly StudySummary[]> {
    return this.read(() => this.state.allStudies());
  }

  setStudyUserAttr(studyId: number, key: string, value: JsonValue): Promise<void> {
    return this.setStudyAttr('user', studyId, key, value);
  }

  setStudySystemAttr(studyId: number, key: string, value: JsonValue): Promise<void> {
    return this.setStudyAttr('system', studyId, key, value);
  }

  getStudyUserAttrs(studyId: number): Promise<Readonly<Record<string, JsonValue>>> {
    return this.read(() => this.state.studyAttrs(checkId('studyId', studyId), 'user'));
  }

  getStudySystemAttrs(studyId: number): Promise<Readonly<Record<string, JsonValue>>> {
    return this.read(() => this.state.studyAttrs(checkId('studyId', studyId), 'system'));
  }

  // ------------------------------------------------------------------------------------------
  // trials
  // ------------------------------------------------------------------------------------------

  createTrial(studyId: number, template?: TrialTemplate): Promise<FrozenTrial> {
    return this.write(() => this.prepareCreateTrial(studyId, template, null) as Prepared<FrozenTrial>);
  }

  async createTrialIfBelow(studyId: number, maxTrials: number, template?: TrialTemplate): Promise<FrozenTrial | null> {
    this.assertNotPoisoned();
    const max = checkCount('maxTrials', maxTrials);
    // Trials are never removed from a study, so a count already at the budget in the caught-up
    // view is final: no lock is needed to answer null. Otherwise count again under the lock.
    const full = await this.read(() => {
      const id = checkId('studyId', studyId);
      normalizeTemplate(template, this.state.directions(id).length); // a bad template rejects either way
      return this.state.getNTrials(id) >= max;
    });
    if (full) return null;
    return this.write(() => this.prepareCreateTrial(studyId, template, max));
  }

  async popWaitingTrial(studyId: number): Promise<FrozenTrial | null> {
    this.assertNotPoisoned();
    const id = await this.read(() => checkId('studyId', studyId));
    // Nothing WAITING in the caught-up view: answering null is final (an enqueue that we have not
    // seen is concurrent with this call), so no lock is needed.
    if (this.state.peekWaiting(id) === null) return null;
    return this.write(() => {
      const trialId = this.state.peekWaiting(id);
      if (trialId === null) return { record: null, durable: false, result: null };
      const t = Date.now();
      const trial = this.state.startWaiting(trialId, t);
      return { record: { op: 'popWaiting', studyId: id, trialId, t }, durable: false, result: trial };
    });
  }

  updateTrial(trialId: number, update: TrialUpdate): Promise<void> {
    return this.write(() => {
      const id = checkId('trialId', trialId);
      const normalized = normalizeUpdate(update);
      this.state.updateTrial(id, normalized);
      const encoded: Record<string, unknown> = {};
      addUpdate(encoded, normalized);
      return { record: { op: 'updateTrial', trialId: id, update: encoded }, durable: false, result: undefined };
    });
  }

  finishTrial(trialId: number, finish: TrialFinish): Promise<FrozenTrial> {
    return this.write(() => {
      const id = checkId('trialId', trialId);
      const normalized = normalizeFinish(finish, this.state.finishDirections(id));
      const t = Date.now();
      const trial = this.state.finishTrial(id, normalized, t);
      const encoded: Record<string, unknown> = { state: normalized.state };
      if (normalized.values !== null) encoded.values = encodeValues(normalized.values);
      addUpdate(encoded, normalized);
      if (normalized.datetimeComplete !== null) encoded.datetimeComplete = normalized.datetimeComplete;
      return { record: { op: 'finishTrial', trialId: id, t, finish: encoded }, durable: true, result: trial };
    });
  }

  getTrial(trialId: number): Promise<FrozenTrial> {
    return this.read(() => this.state.getTrial(checkId('trialId', trialId)));
  }

  getAllTrials(studyId: number, options?: GetTrialsOptions): Promise<readonly FrozenTrial[]> {
    return this.read(() => this.state.getAllTrials(checkId('studyId', studyId), checkGetTrialsOptions(options)));
  }

  getNTrials(studyId: number, options?: GetTrialsOptions): Promise<number> {
    return this.read(() => this.state.getNTrials(checkId('studyId', studyId), checkGetTrialsOptions(options)));
  }

  async claim(studyId: number, key: string): Promise<boolean> {
    this.assertNotPoisoned();
    const id = checkId('studyId', studyId);
    checkKey('key', key);
    // A claim is forever: one already in the caught-up view answers without the lock.
    if (await this.read(() => this.state.isClaimed(id, key))) return false;
    return this.write(() => {
      if (!this.state.claim(id, key)) return { record: null, durable: false, result: false };
      return { record: { op: 'claim', studyId: id, key }, durable: false, result: true };
    });
  }

  areClaimed(studyId: number, keys: readonly string[]): Promise<readonly boolean[]> {
    // Claims are forever: the caught-up view answers, without the lock.
    return this.read(() => {
      const id = checkId('studyId', studyId);
      return checkKeys(keys).map((key) => this.state.isClaimed(id, key));
    });
  }

  /**
   * Waits for queued writes, fdatasyncs the file when a record written since its last sync is not
   * synced yet (updateTrial, attributes, claims, popWaiting and RUNNING or WAITING createTrial are
   * acknowledged unsynced), then releases the file. Later calls reject with `StorageError`. A failed
   * sync rejects with STORAGE_SYNC_FAILED (naming the file and errno); the file is closed all the
   * same and nothing is removed from it. A storage whose earlier sync failed is not synced again.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    const fd = this.fd;
    if (fd === null) return;
    this.fd = null;
    try {
      if (this.unsynced && this.syncFailure === null) fdatasyncSync(fd);
      this.unsynced = false;
    } catch (error) {
      throw this.syncFailed(error, 'fdatasync', 'on close, of the records written since the last successful sync');
    } finally {
      closeSync(fd);
    }
  }

  // ------------------------------------------------------------------------------------------
  // machinery
  // ------------------------------------------------------------------------------------------

  private setStudyAttr(kind: AttrKind, studyId: number, key: string, value: JsonValue): Promise<void> {
    return this.write(() => {
      const id = checkId('studyId', studyId);
      checkKey('key', key);
      const cloned = cloneJsonValue('value', value);
      this.state.setStudyAttr(id, kind, key, cloned);
      return { record: { op: 'setStudyAttr', studyId: id, kind, key, value: cloned }, durable: false, result: undefined };
    });
  }

  /** The createTrial record, on the caught-up state; nothing when the study holds `max` trials. */
  private prepareCreateTrial(studyId: number, template: TrialTemplate | undefined, max: number | null): Prepared<FrozenTrial | null> {
    const id = checkId('studyId', studyId);
    const normalized = normalizeTemplate(template, this.state.directions(id).length);
    if (max !== null && this.state.getNTrials(id) >= max) return { record: null, durable: false, result: null };
    const t = Date.now();
    const trial = this.state.createTrial(id, normalized, t);
    const encoded: Record<string, unknown> = { state: normalized.state };
    if (normalized.values !== null) encoded.values = encodeValues(normalized.values);
    addUpdate(encoded, normalized);
    if (normalized.datetimeStart !== null) encoded.datetimeStart = normalized.datetimeStart;
    if (normalized.datetimeComplete !== null) encoded.datetimeComplete = normalized.datetimeComplete;
    return {
      record: { op: 'createTrial', studyId: id, trialId: trial.trialId, t, template: encoded },
      durable: isFinishedState(normalized.state),
      result: trial,
    };
  }

  /**
   * Takes the lock to clean a torn last line at open. False when it is held, or when the lock file
   * cannot be created (a directory this process cannot write): the fragment then stays for a writer
   * that can lock, and the journal opens for reading (writes will report the lock's error).
   */
  private tryLockToClean(): boolean {
    try {
      return this.lock.tryAcquire();
    } catch (error) {
      if (error instanceof StorageError) return false;
      throw error;
    }
  }

  private checkUsable(): void {
    if (this.closed || this.fd === null) throw new StorageError(`the journal storage ${this.path} is closed`);
    if (this.failure !== null) throw this.failure;
  }

  /** Throws, once a sync of the journal failed, the error every later write rejects with. */
  private assertNotPoisoned(): void {
    const failure = this.syncFailure;
    if (failure === null) return;
    throw new StorageError(
      `the journal storage ${this.path} refuses writes since an earlier sync of the file failed (${messageOf(failure.cause)}): ` +
        'what the file holds on disk is uncertain; open it again (a new JournalStorage) to replay what it holds and write on',
      { syncFailed: true, cause: failure },
    );
  }

  private async read<T>(fn: () => T): Promise<T> {
    this.checkUsable();
    this.catchUp(false);
    return fn();
  }

  /**
   * Runs `prepare` under the in-process mutex and the file lock, on the caught-up state, and
   * appends its record. `prepare` validates and applies the op to the state (or throws, leaving the
   * state unchanged).
   */
  private write<T>(prepare: () => Prepared<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StorageError(`the journal storage ${this.path} is closed`));
    if (this.readOnlyReason !== null) {
      return Promise.reject(new StorageError(`the journal ${this.path} is open read-only (${this.readOnlyReason}); it cannot be written`));
    }
    try {
      this.assertNotPoisoned();
    } catch (error) {
      return Promise.reject(error);
    }
    const task = async (): Promise<T> => {
      // Tasks queued before close() still run: close() waits for them before closing the file.
      if (this.failure !== null) throw this.failure;
      this.assertNotPoisoned(); // queued before a sync failed
      await this.lock.acquire();
      try {
        this.assertSameFile();
        this.catchUp(true);
        const prepared = prepare();
        if (prepared.record !== null) this.append(prepared.record, prepared.durable);
        return prepared.result;
      } finally {
        this.lock.release();
      }
    };
    const run = this.queue.then(task, task);
    this.queue = run.then(noop, noop);
    return run;
  }

  /** Appends one record (with the header first when the file is empty). Holds the lock. */
  private append(record: Record<string, unknown>, durable: boolean): void {
    const fd = this.fd as number;
    const first = this.offset === 0;
    let bytes: Buffer;
    try {
      const body = Buffer.from(JSON.stringify({ op: record.op, writer: this.writer, seq: this.seq, ...record }), 'utf8');
      if (body.length + CRC_MEMBER_BYTES > MAX_LINE_BYTES) throw new RangeError(`${body.length + CRC_MEMBER_BYTES} bytes`);
      // The record without its closing '}', then the checksum of those bytes as its last member.
      const summed = body.subarray(0, body.length - 1);
      const crcMember = Buffer.from(`,"crc":"${hex8(crc32(summed))}"}\n`, 'latin1');
      bytes = Buffer.concat([first ? Buffer.from(HEADER_LINE, 'utf8') : Buffer.alloc(0), summed, crcMember]);
    } catch (error) {
      // Too large to be read back as one line (or to be a string at all): written, it would make the
      // journal unreadable. The state already holds the op: rebuild it from the file.
      if (!(error instanceof RangeError)) throw error;
      this.reload(true);
      throw new StorageError(
        `the ${String(record.op)} record is too large for the journal ${this.path} (${messageOf(error)}; a record ` +
          `may take at most ${MAX_LINE_BYTES} bytes of JSON): nothing was written`,
        { cause: error },
      );
    }
    try {
      this.lock.assertHeld();
    } catch (error) {
      // The lock was broken while this process held it (frozen past lockStaleMs): write nothing.
      // The state already holds the op: rebuild it from the file, as a reader would.
      this.reload(false);
      throw error;
    }
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (error) {
      // The state already holds the op but the file may not: rebuild the state from the file,
      // removing what part of the record was written (a full disk, a file size limit). That
      // fragment is this write's own, reported by the error below: no torn-line warning.
      this.reload(true, true);
      throw new StorageError(`cannot append to the journal ${this.path}: ${messageOf(error)}`, { cause: error });
    }
    let syscall = 'fdatasync';
    try {
      if (durable || first) fdatasyncSync(fd);
      this.unsynced = !(durable || first);
      syscall = 'fsync of its directory';
      if (first) syncDirectory(dirname(this.path));
      for (const dir of this.unsyncedDirectories) {
        syscall = `fsync of the directory ${dir}`;
        syncDirectory(dir);
      }
      this.unsyncedDirectories = [];
    } catch (error) {
      this.poison(error, syscall, String(record.op));
    }
    this.seq++;
    this.offset += bytes.length;
    this.nLines += first ? 2 : 1;
  }

  /**
   * Fails (for good) unless `path` still names the file this object opened. A journal deleted or
   * replaced (rm, mv) while a process has it open would otherwise take that process's writes into
   * an unlinked inode: acknowledged, and lost when it exits. One stat(2), under the lock (the
   * opened file's identity is read once, at open).
   */
  private assertSameFile(): void {
    let current: ReturnType<typeof statSync> | undefined;
    try {
      current = statSync(this.path, { throwIfNoEntry: false });
    } catch (error) {
      throw new StorageError(`cannot stat the journal ${this.path}: ${messageOf(error)}`, { cause: error });
    }
    if (current !== undefined && current.dev === this.opened.dev && current.ino === this.opened.ino) return;
    this.fail(
      new StorageError(
        `the journal ${this.path} was ${current === undefined ? 'deleted' : 'replaced by another file'} while this ` +
          'process had it open; nothing more is written to it (open the storage again to use the file now at that path)',
      ),
    );
  }

  /**
   * After a failed fdatasync/fsync of the record just written (still under the lock): whether that
   * record, and the records written since the last successful sync, are on disk is unknown. Linux
   * may drop the dirty pages it could not write and clear the error, so that a later sync succeeds
   * while they are lost (PostgreSQL's "fsyncgate"); going on would acknowledge later writes as
   * durable over a hole. So this object is poisoned: the state is rebuilt from the file up to the
   * record's first byte (the op is not reported as done), reads go on from that view and no longer
   * catch up (the file past it may not be what the disk holds), and every later write rejects
   * (`assertNotPoisoned`). A new `JournalStorage` on the file replays what it holds. The record
   * itself is left in place: other processes may have read it already (a reader takes no lock), and
   * truncating a complete line would make them fail with "shrank". Throws the sync's error.
   */
  private poison(error: unknown, syscall: string, op: string): never {
    const failure = this.syncFailed(
      error,
      syscall,
      `after the ${op} record was written; whether it, and the records written since the last successful sync, are on disk is unknown`,
    );
    this.replayLimit = this.offset;
    this.reload(false);
    throw failure;
  }

  /**
   * Records that a sync failed (`syscall`, `when`: what was being synced, and what is uncertain
   * now) and returns the STORAGE_SYNC_FAILED error to throw; every later write rejects.
   */
  private syncFailed(error: unknown, syscall: string, when: string): StorageError {
    const failure = new StorageError(
      `cannot sync the journal ${this.path}: ${syscall} failed with ${codeOf(error) ?? 'an error'} (${messageOf(error)}) ${when}. ` +
        'This storage writes nothing more: open the journal again to replay what it holds',
      { syncFailed: true, cause: error },
    );
    this.syncFailure = failure;
    return failure;
  }

  /** Rebuilds the state from the file; `locked` and `ownFragment` as for `catchUp`. */
  private reload(locked: boolean, ownFragment = false): void {
    this.state = new StorageState();
    this.offset = 0;
    this.nLines = 0;
    try {
      this.catchUp(locked, ownFragment);
    } catch (error) {
      // A failed sync of a cut torn line poisons writes only: the view up to the cut stands.
      if (error === this.syncFailure) return;
      this.failure = error instanceof StorageError ? error : new StorageError(messageOf(error), { cause: error });
    }
  }

  /**
   * Applies every complete line appended since `offset`. With the lock held (`locked`), a trailing
   * fragment without '\n' is a torn write and is truncated; without it, the fragment may be a write
   * in progress and is left for later. The file is read in pieces of `READ_CHUNK_BYTES`, so a
   * backlog of any size needs no more memory than a piece and the longest line (a backlog over
   * the 4 GiB a Buffer can hold used to throw an untyped RangeError). A line longer than
   * `MAX_LINE_BYTES` cannot be decoded: STORAGE_CORRUPT. `ownFragment`: the fragment is what this
   * process's failed append left (the lock was held throughout), so it is removed without the
   * `JOURNAL_TORN_LINE` warning, which tells of a process killed while writing.
   */
  private catchUp(locked: boolean, ownFragment = false): void {
    const fd = this.fd as number;
    // `replayLimit` is at the start of a line, so limiting the size never makes a fragment.
    const size = Math.min(fstatSync(fd).size, this.replayLimit);
    if (size === this.offset) return;
    if (size < this.offset) {
      this.fail(
        new StorageError(`the journal ${this.path} shrank from ${this.offset} to ${size} bytes: it was modified by something else`, {
          corrupt: true,
        }),
      );
    }
    // Bytes of the line not yet ended by a '\n', in the pieces they were read in.
    const pending: Buffer[] = [];
    let nPending = 0;
    let position = this.offset;
    while (position < size) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, size - position));
      let done = 0;
      while (done < chunk.length) {
        const n = readSync(fd, chunk, done, chunk.length - done, position + done);
        if (n === 0) break;
        done += n;
      }
      position += done;
      // The file can be shorter than fstat said: another process truncated a torn last line between
      // the fstat and the read. Only the bytes read are data; the rest of the buffer is uninitialized.
      const data = chunk.subarray(0, done);
      let start = 0;
      let nl = data.indexOf(NEWLINE);
      if (nl >= 0 && nPending > 0) {
        pending.push(data.subarray(0, nl));
        this.applyBytes(Buffer.concat(pending, nPending + nl));
        pending.length = 0;
        nPending = 0;
        start = nl + 1;
        nl = data.indexOf(NEWLINE, start);
      }
      while (nl >= 0) {
        this.applyBytes(data.subarray(start, nl));
        start = nl + 1;
        nl = data.indexOf(NEWLINE, start);
      }
      if (start < done) {
        pending.push(data.subarray(start));
        nPending += done - start;
        if (nPending > MAX_LINE_BYTES) this.failLineTooLong(nPending);
      }
      if (done < chunk.length) break;
    }
    // A first line, even unfinished, that cannot become the header is no journal's: no writer
    // produces it, so this needs no lock (a read-only reader used to show such a file as empty).
    if (nPending > 0 && this.offset === 0) {
      const head = Buffer.concat(pending, nPending).toString('utf8', 0, Math.min(nPending, HEADER_LINE.length));
      if (nPending > HEADER_LINE.length || !HEADER_LINE.startsWith(head)) {
        this.fail(new StorageError(`${this.path} is not a Kestrel journal (it does not start with the journal header)`));
      }
    }
    if (nPending > 0 && locked) {
      // Only the holder of the lock may judge the fragment torn: a process that lost the lock
      // (frozen past lockStaleMs) could be looking at another writer's write in progress.
      this.lock.assertHeld();
      try {
        ftruncateSync(fd, this.offset);
      } catch (error) {
        throw new StorageError(`cannot truncate the torn last line of ${this.path}: ${messageOf(error)}`, { cause: error });
      }
      if (!ownFragment) {
        warnOnce(
          'JOURNAL_TORN_LINE',
          `journal ${this.path}: ignored and removed a torn last line (line ${this.nLines + 1}, ${nPending} bytes ` +
            `from byte ${this.offset}) left by a process killed while writing; earlier records are intact`,
        );
      }
      // The cut is in the page cache only, and the fragment may be on disk already. Records appended
      // after an unsynced cut could reach the disk before it (or some of their blocks beside the
      // fragment's old ones), and a power loss would bring back the fragment with records behind
      // it: a complete line that fails its checksum, and a journal that no longer opens. So the cut
      // is made durable before anything is appended after it.
      try {
        fdatasyncSync(fd);
      } catch (error) {
        this.replayLimit = this.offset;
        throw this.syncFailed(
          error,
          'fdatasync',
          `after cutting off a torn last line (${nPending} bytes from byte ${this.offset}); whether the cut, and the ` +
            'records written since the last successful sync, are on disk is unknown',
        );
      }
      this.unsynced = false;
    }
  }

  /** Applies one complete line (its bytes, without the '\n') and moves past it. */
  private applyBytes(line: Buffer): void {
    if (line.length > MAX_LINE_BYTES) this.failLineTooLong(line.length);
    const lineNumber = this.nLines + 1;
    const summed = lineNumber > 1 && this.checkChecksum(line, lineNumber);
    this.applyLine(line.toString('utf8'), lineNumber, summed);
    this.nLines++;
    this.offset += line.length + 1;
  }

  /**
   * Checks the crc member that ends a record line (see the file header): true when it is there and
   * matches, false when the line does not end with one (a record of an earlier version, or not a
   * record: `applyLine` then refuses one with a crc member elsewhere). A mismatch, or a crc member
   * that is not 8 lowercase hex digits, is corruption.
   */
  private checkChecksum(line: Buffer, lineNumber: number): boolean {
    // Byte by byte rather than with Buffer methods: this runs for every line replayed. A line end
    // converted to CRLF (git's autocrlf, a Windows editor) leaves a carriage return, which JSON
    // reads as white space; the checksum covers the bytes before the crc member either way.
    const end = line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
    const start = end - CRC_MEMBER_BYTES;
    if (start < 1 || line[end - 1] !== 0x7d || line[end - 2] !== 0x22) return false;
    for (let i = 0; i < CRC_MEMBER_START.length; i++) if (line[start + i] !== CRC_MEMBER_START[i]) return false;
    let recorded = 0;
    for (let i = start + CRC_MEMBER_START.length; i < end - 2; i++) {
      const c = line[i] as number;
      const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
      if (digit < 0) {
        const hex = line.toString('latin1', start + CRC_MEMBER_START.length, end - 2);
        this.fail(
          new StorageError(`journal ${this.path} is corrupt: line ${lineNumber} has a malformed checksum (crc ${JSON.stringify(hex)})`, {
            corrupt: true,
          }),
        );
      }
      recorded = recorded * 16 + digit;
    }
    const computed = crc32(line.subarray(0, start));
    if (computed !== recorded) {
      this.fail(
        new StorageError(
          `journal ${this.path} is corrupt: line ${lineNumber} fails its checksum (crc ${hex8(recorded)} recorded, ` +
            `${hex8(computed)} computed): it changed after it was written`,
          { corrupt: true },
        ),
      );
    }
    return true;
  }

  private failLineTooLong(nBytes: number): never {
    this.fail(
      new StorageError(
        `journal ${this.path} is corrupt: line ${this.nLines + 1} (from byte ${this.offset}) is longer than ${MAX_LINE_BYTES} ` +
          `bytes (at least ${nBytes}), more than one string can hold; it cannot be read`,
        { corrupt: true },
      ),
    );
  }

  /** `summed`: the line ended with a crc member, which matched (`checkChecksum`). */
  private applyLine(text: string, lineNumber: number, summed: boolean): void {
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (error) {
      if (lineNumber === 1) this.fail(notJournal(this.path, 'its first line is not JSON'));
      this.fail(
        new StorageError(`journal ${this.path} is corrupt: line ${lineNumber} is not valid JSON`, { corrupt: true, cause: error }),
      );
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      if (lineNumber === 1) this.fail(notJournal(this.path, 'its first line is not the header'));
      this.fail(new StorageError(`journal ${this.path} is corrupt: line ${lineNumber} is not an object`, { corrupt: true }));
    }
    const r = record as Record<string, unknown>;
    if (lineNumber === 1) {
      if (r.op !== 'header') this.fail(notJournal(this.path, 'its first line is not the header'));
      if (r.format !== JOURNAL_FORMAT) this.fail(notJournal(this.path, `its format is ${JSON.stringify(r.format)}`));
      if (r.version !== JOURNAL_VERSION) {
        this.fail(
          new StorageError(
            `journal ${this.path} has format version ${JSON.stringify(r.version)}; this Kestrel reads version ${JOURNAL_VERSION}`,
          ),
        );
      }
      return;
    }
    if (!summed && Object.prototype.hasOwnProperty.call(r, 'crc')) {
      this.fail(
        new StorageError(
          `journal ${this.path} is corrupt: line ${lineNumber} has a malformed checksum (its crc member is not the last one, ` +
            'or not 8 lowercase hex digits in a string)',
          { corrupt: true },
        ),
      );
    }
    try {
      this.applyRecord(r);
    } catch (error) {
      this.fail(
        new StorageError(`journal ${this.path} is corrupt: line ${lineNumber} (op ${JSON.stringify(r.op)}) cannot be replayed: ${messageOf(error)}`, {
          corrupt: true,
          cause: error,
        }),
      );
    }
  }

  /** Replays one record into the state; throws on anything inconsistent. */
  private applyRecord(r: Record<string, unknown>): void {
    const state = this.state;
    switch (r.op) {
      case 'createStudy': {
        const id = state.createStudy(checkStudyName(r.studyName), checkDirections(r.directions), checkTime(r.t));
        expectId('studyId', r.studyId, id);
        return;
      }
      case 'deleteStudy':
        state.deleteStudy(checkId('studyId', r.studyId));
        return;
      case 'setStudyAttr': {
        if (r.kind !== 'user' && r.kind !== 'system') throw new StorageError(`bad attribute kind ${JSON.stringify(r.kind)}`);
        state.setStudyAttr(checkId('studyId', r.studyId), r.kind, checkKey('key', r.key), cloneJsonValue('value', r.value));
        return;
      }
      case 'createTrial': {
        const studyId = checkId('studyId', r.studyId);
        const template = normalizeTemplate(decodeNumbers(r.template), state.directions(studyId).length, { replay: true });
        const trial = state.createTrial(studyId, template, checkTime(r.t), { replay: true });
        expectId('trialId', r.trialId, trial.trialId);
        return;
      }
      case 'popWaiting':
        state.startWaiting(checkId('trialId', r.trialId), checkTime(r.t));
        return;
      case 'updateTrial':
        state.updateTrial(checkId('trialId', r.trialId), normalizeUpdate(decodeNumbers(r.update)));
        return;
      case 'finishTrial': {
        const trialId = checkId('trialId', r.trialId);
        const finish = normalizeFinish(decodeNumbers(r.finish), state.finishDirections(trialId), { replay: true });
        state.finishTrial(trialId, finish, checkTime(r.t));
        return;
      }
      case 'claim':
        if (!state.claim(checkId('studyId', r.studyId), checkKey('key', r.key))) {
          throw new StorageError(`key ${JSON.stringify(r.key)} was claimed twice`);
        }
        return;
      default:
        throw new StorageError(`unknown op ${JSON.stringify(r.op)}`);
    }
  }

  private fail(error: StorageError): never {
    this.failure = error;
    throw error;
  }
}

function noop(): void {}

/** `value` (an unsigned 32-bit integer) as 8 lowercase hex digits. */
function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/** `path` with its symbolic links resolved (the journal exists once opened); `path` itself if that fails. */
function realPathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Opens the journal for appending (creating it and its directory), or for reading only when asked
 * or when the file exists but cannot be written (a read-only file or mount). Anything but a regular
 * file is refused (see `checkRegularFile`).
 */
function openJournal(path: string, readOnly: boolean): { fd: number; readOnlyReason: string | null; createdDirectories: readonly string[] } {
  const openFailed = (error: unknown): StorageError =>
    error instanceof StorageError ? error : new StorageError(`cannot open the journal ${path}: ${messageOf(error)}`, { cause: error });
  if (readOnly) {
    try {
      return { fd: openForReading(path), readOnlyReason: 'readOnly: true', createdDirectories: [] };
    } catch (error) {
      throw openFailed(error);
    }
  }
  let fd: number;
  const createdDirectories: string[] = [];
  try {
    makeDirectories(path, createdDirectories);
    fd = openSync(path, 'a+');
  } catch (error) {
    const code = codeOf(error);
    if (code === undefined || !READ_ONLY_CODES.has(code)) throw openFailed(error);
    try {
      return { fd: openForReading(path), readOnlyReason: `it cannot be opened for writing: ${code}`, createdDirectories };
    } catch (readError) {
      throw openFailed(readError instanceof StorageError ? readError : error);
    }
  }
  try {
    checkRegularFile(path, fstatSync(fd));
  } catch (error) {
    closeSync(fd);
    throw openFailed(error);
  }
  return { fd, readOnlyReason: null, createdDirectories };
}

/**
 * Creates the missing directories of the journal `path`, one level at a time, adding each one it
 * made to `created` (top-most first), or throws a `StorageError` naming the directory.
 * Not `mkdirSync({recursive: true})`: on Node 20 it never returns for a path under /proc (a
 * constructor that hangs, blocking the process), and it reports a file in the way as a bare EEXIST
 * and a read-only file system as ENOENT.
 */
function makeDirectories(path: string, created: string[]): void {
  const fail = (dir: string, reason: string, cause?: unknown): StorageError =>
    new StorageError(`cannot create the directory ${dir} of the journal ${path}: ${reason}`, { cause });
  const ensure = (dir: string): void => {
    let stats: Stats | undefined;
    try {
      stats = statSync(dir, { throwIfNoEntry: false });
    } catch (error) {
      // ENOTDIR: an ancestor is a file; walking up finds it.
      if (codeOf(error) !== 'ENOTDIR') throw fail(dir, messageOf(error), error);
    }
    if (stats !== undefined) {
      if (stats.isDirectory()) return;
      throw fail(dir, 'a file of that name is in the way');
    }
    const parent = dirname(dir);
    if (parent !== dir) ensure(parent);
    try {
      mkdirSync(dir);
    } catch (error) {
      // Made meanwhile by another process opening the same journal.
      if (codeOf(error) === 'EEXIST' && statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true) return;
      throw fail(dir, messageOf(error), error);
    }
    created.push(dir);
  };
  ensure(dirname(path));
}

/**
 * Opens `path` with O_RDONLY, refusing anything but a regular file. It is looked at first: opening
 * a FIFO for reading waits for a writer, forever. The open file is checked again (a file swapped
 * in between; a directory, which Linux opens for reading and whose first read fails with EISDIR).
 */
function openForReading(path: string): number {
  const before = statSync(path, { throwIfNoEntry: false });
  if (before !== undefined) checkRegularFile(path, before);
  const fd = openSync(path, 'r');
  try {
    checkRegularFile(path, fstatSync(fd));
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

/**
 * Throws `StorageError` unless `stats` is a regular file's. A journal must be one: a FIFO would hang
 * a reader and take the writes of a writer away, and a device such as /dev/null would open as an
 * empty journal that swallows every write.
 */
function checkRegularFile(path: string, stats: Stats): void {
  if (stats.isFile()) return;
  const kind = stats.isDirectory()
    ? 'a directory'
    : stats.isFIFO()
      ? 'a FIFO'
      : stats.isCharacterDevice()
        ? 'a character device'
        : stats.isBlockDevice()
          ? 'a block device'
          : stats.isSocket()
            ? 'a socket'
            : 'not a file';
  throw new StorageError(`cannot open the journal ${path}: it is not a regular file (${kind})`);
}

function checkMs(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
    throw new InvalidOptionError(option, 'a number of milliseconds >= 1', value);
  }
  return value;
}

function checkTime(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new StorageError(`bad time ${JSON.stringify(value)}`);
  return value;
}

function expectId(name: string, written: unknown, replayed: number): void {
  if (written !== replayed) {
    throw new StorageError(`the record says ${name} ${JSON.stringify(written)} but replay assigned ${replayed}`);
  }
}

function notJournal(path: string, why: string): StorageError {
  return new StorageError(`${path} is not a Kestrel journal (${why}; expected ${HEADER_LINE.trim()})`);
}

function encodeNumber(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

function encodeValues(values: readonly number[]): (number | string)[] {
  return values.map(encodeNumber);
}

/** Adds the non-empty parts of an update to a record body. */
function addUpdate(out: Record<string, unknown>, u: NormalizedUpdate): void {
  if (hasAny(u.params)) out.params = u.params;
  if (hasAny(u.distributions)) out.distributions = u.distributions;
  if (hasAny(u.userAttrs)) out.userAttrs = u.userAttrs;
  if (hasAny(u.systemAttrs)) out.systemAttrs = u.systemAttrs;
  if (hasAny(u.intermediateValues)) {
    const iv: Record<string, number | string> = {};
    for (const key in u.intermediateValues) iv[key] = encodeNumber(u.intermediateValues[key as unknown as number]);
    out.intermediateValues = iv;
  }
}

function hasAny(o: object): boolean {
  for (const key in o) if (Object.prototype.hasOwnProperty.call(o, key)) return true;
  return false;
}

const SPECIAL: Readonly<Record<string, number>> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity };

function decodeNumber(v: unknown): unknown {
  return typeof v === 'string' && v in SPECIAL ? SPECIAL[v] : v;
}

/** Turns the encoded non-finite numbers of `values` and `intermediateValues` back into numbers. */
function decodeNumbers<T>(body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new StorageError(`expected an object body, received ${JSON.stringify(body)}`);
  }
  const b = body as Record<string, unknown>;
  const out: Record<string, unknown> = { ...b };
  if (Array.isArray(b.values)) out.values = b.values.map(decodeNumber);
  if (typeof b.intermediateValues === 'object' && b.intermediateValues !== null) {
    const iv: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(b.intermediateValues)) iv[k] = decodeNumber(v);
    out.intermediateValues = iv;
  }
  return out as T;
}

/**
 * Errors of open(2) on a directory, for reading, that say it cannot be opened here, not that
 * anything was lost: EACCES, EPERM (a directory this process may write into but not read, mode
 * 0300; a system that refuses directory handles), EISDIR (a system that opens no directory as a
 * file). The directory entry then stays unsynced, as it must where no fsync of it is possible.
 */
const DIRECTORY_OPEN_UNSUPPORTED: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'EISDIR']);
/**
 * Errors of fsync(2) on a directory that say the system or file system cannot sync one, as
 * PostgreSQL (`fsync_fname_ext`), coreutils (`shred`) and Dovecot (`fdatasync_path`) read them:
 * EINVAL (Linux on CIFS, some FUSE and network file systems), EBADF (NetBSD, AIX: no fsync of a
 * descriptor opened read-only), EISDIR (HP-UX), EPERM (Windows: FlushFileBuffers refuses a
 * directory handle, which libuv reports as EPERM), ENOTSUP/EOPNOTSUPP. Anything else (EIO, ENOSPC,
 * EDQUOT, EROFS, ...) is a failed sync and poisons the storage.
 */
const DIRECTORY_FSYNC_UNSUPPORTED: ReadonlySet<string> = new Set(['EINVAL', 'EBADF', 'EISDIR', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP']);

/**
 * fsyncs `dir`, so that the journal's new entry in it is durable; skipped where the directory
 * cannot be opened or fsynced (`DIRECTORY_OPEN_UNSUPPORTED`, `DIRECTORY_FSYNC_UNSUPPORTED`; the
 * file's own fdatasync already ran). Throws any other error.
 */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (error) {
    const code = codeOf(error);
    if (code !== undefined && DIRECTORY_OPEN_UNSUPPORTED.has(code)) return;
    throw error;
  }
  try {
    fsyncSync(fd);
  } catch (error) {
    const code = codeOf(error);
    if (code === undefined || !DIRECTORY_FSYNC_UNSUPPORTED.has(code)) throw error;
  } finally {
    closeSync(fd);
  }
}
