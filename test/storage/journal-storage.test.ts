import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JournalStorage } from '../../src/storage/journal-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import { currentProcessIdentity } from '../../src/util/process-identity.js';
import { resetWarnOnce } from '../../src/util/warn.js';
import { C, N, X, runStorageContract } from './contract.js';
import { NO_SUCH_PID, lockLine } from './fixtures/lock-line.js';

const me = currentProcessIdentity();

const root = mkdtempSync(join(tmpdir(), 'kestrel-journal-'));
let counter = 0;
function freshPath(ext = 'journal'): string {
  return join(root, `j${counter++}.${ext}`);
}

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

runStorageContract('JournalStorage', () => new JournalStorage({ path: freshPath() }));
// The same contract through two instances on one file: every call alternates between them, so
// each read must catch up with what the other appended.
runStorageContract('JournalStorage (two instances, one file)', () => twoInstances(freshPath()));

function twoInstances(path: string): Storage {
  const a = new JournalStorage({ path });
  const b = new JournalStorage({ path });
  let flip = 0;
  return new Proxy(a, {
    get(_target, prop) {
      if (prop === 'close') {
        return async () => {
          await a.close();
          await b.close();
        };
      }
      const pick = flip++ % 2 === 0 ? a : b;
      const value: unknown = Reflect.get(pick, prop);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(pick) : value;
    },
  }) as Storage;
}

function lines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

function plain(trials: readonly FrozenTrial[]): unknown[] {
  return trials.map((t) => t.toJSON());
}

/** A journal with one study and a few trials in various states. */
async function populate(path: string): Promise<{ studyId: number; trials: readonly FrozenTrial[] }> {
  const s = new JournalStorage({ path });
  const studyId = await s.createStudy('s', ['minimize']);
  await s.setStudyUserAttr(studyId, 'cfg', { lr: [0.1, 0.01] });
  await s.setStudySystemAttr(studyId, 'sampler', 'tpe');
  const other = await s.createStudy('gone', ['maximize']);
  await s.createTrial(other);
  for (let i = 0; i < 3; i++) {
    const t = await s.createTrial(studyId);
    await s.updateTrial(t.trialId, { intermediateValues: { 0: i, 1: Number.NaN }, userAttrs: { i } });
    await s.finishTrial(t.trialId, {
      state: 'COMPLETE',
      values: [i / 3],
      params: { x: i, n: 3, c: 'sgd' },
      distributions: { x: X, n: N, c: C },
    });
  }
  await s.createTrial(studyId, { state: 'WAITING', systemAttrs: { fixed: { x: 1 } } });
  await s.createTrial(studyId, { state: 'WAITING' });
  await s.popWaitingTrial(studyId);
  await s.createTrial(studyId, { state: 'PRUNED', values: [Infinity], intermediateValues: { 4: -Infinity } });
  await s.createTrial(studyId, { state: 'FAIL', systemAttrs: { failReason: 'boom, "quoted"\nnewline' } });
  await s.claim(studyId, 'grid-0');
  await s.deleteStudy(other);
  const trials = await s.getAllTrials(studyId);
  await s.close();
  return { studyId, trials };
}

describe('JournalStorage', () => {
  let warnings: ReturnType<typeof vi.spyOn>;
  beforeEach(() => {
    resetWarnOnce();
    warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  });
  afterEach(() => {
    warnings.mockRestore();
  });

  function warned(code: string): boolean {
    return warning(code) !== undefined;
  }
  /** The message of the first warning with this code, if any. */
  function warning(code: string): string | undefined {
    const call = warnings.mock.calls.find((c: unknown[]) => (c[1] as { code?: string } | undefined)?.code === code);
    return call === undefined ? undefined : String(call[0]);
  }

  it('writes a versioned header and one JSON record per line, creating the directory', async () => {
    const path = join(root, 'nested', 'deeper', 'study.journal');
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const t = await s.createTrial(id);
    await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] });
    await s.close();
    const records = lines(path).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[0]).toEqual({ op: 'header', format: 'kestrel-journal', version: 1 });
    expect(records.slice(1).map((r) => r.op)).toEqual(['createStudy', 'createTrial', 'finishTrial']);
    for (const r of records.slice(1)) {
      expect(typeof r.writer).toBe('string');
      expect(typeof r.seq).toBe('number');
    }
    expect(records.slice(1).map((r) => r.seq)).toEqual([0, 1, 2]);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('replays a reopened journal exactly', async () => {
    const path = freshPath();
    const { studyId, trials } = await populate(path);
    const s = new JournalStorage({ path });
    expect(plain(await s.getAllTrials(studyId))).toEqual(plain(trials));
    const studies = await s.getAllStudies();
    expect(studies.map((x) => x.studyName)).toEqual(['s']);
    expect(await s.getStudyUserAttrs(studyId)).toEqual({ cfg: { lr: [0.1, 0.01] } });
    expect(await s.getStudySystemAttrs(studyId)).toEqual({ sampler: 'tpe' });
    expect(await s.claim(studyId, 'grid-0')).toBe(false);
    expect(await s.getNTrials(studyId, { states: ['WAITING'] })).toBe(1);
    // Ids and numbers continue where the file left off.
    const next = await s.createTrial(studyId);
    expect(next.number).toBe(trials.length);
    expect(trials.some((t) => t.trialId === next.trialId)).toBe(false);
    const popped = await s.popWaitingTrial(studyId);
    expect(popped?.number).toBe(4);
    await s.close();
    expect(warnings).not.toHaveBeenCalled();
  });

  it('replays the place in the queue of a WAITING trial that holds enqueued_number', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const a = await s.createTrial(id, { state: 'WAITING' });
    const b = await s.createTrial(id, { state: 'WAITING' });
    await s.popWaitingTrial(id);
    await s.finishTrial(a.trialId, { state: 'FAIL' });
    const again = await s.createTrial(id, { state: 'WAITING', systemAttrs: { enqueued_number: a.number } });
    await s.close();
    const reopened = new JournalStorage({ path });
    expect((await reopened.popWaitingTrial(id))?.trialId).toBe(again.trialId);
    expect((await reopened.popWaitingTrial(id))?.trialId).toBe(b.trialId);
    await reopened.close();
  });

  it('opens a journal of an earlier version whose WAITING trial holds an enqueued_number it did not use, popping in its order', async () => {
    // Before enqueued_number placed WAITING trials, a system attribute of that name was just data
    // (storage.createTrial takes any JSON system attribute): the version that wrote these records
    // popped them oldest first, and they must still open.
    const path = freshPath();
    const record = (seq: number, trialId: number, enqueued: unknown): string =>
      JSON.stringify({ op: 'createTrial', writer: 'old', seq, studyId: 0, trialId, t: 1, template: { state: 'WAITING', systemAttrs: { enqueued_number: enqueued } } });
    writeFileSync(
      path,
      [
        '{"op":"header","format":"kestrel-journal","version":1}',
        JSON.stringify({ op: 'createStudy', writer: 'old', seq: 0, studyId: 0, studyName: 's', directions: ['minimize'], t: 1 }),
        record(1, 0, 'first'),
        record(2, 1, 7),
        record(3, 2, -1),
        '',
      ].join('\n'),
    );
    const s = new JournalStorage({ path });
    expect((await s.getTrial(1)).systemAttrs).toEqual({ enqueued_number: 7 });
    const order = [];
    for (let i = 0; i < 3; i++) order.push((await s.popWaitingTrial(0))?.number);
    expect(order).toEqual([0, 1, 2]);
    await s.close();
  });

  it('ignores a torn last line with a warning, and the next append is clean', async () => {
    const path = freshPath();
    const { studyId, trials } = await populate(path);
    const size = readFileSync(path).length;
    appendFileSync(path, '{"op":"finishTrial","writer":"9-abc","seq":3,"trial');
    const s = new JournalStorage({ path });
    expect(warned('JOURNAL_TORN_LINE')).toBe(true);
    expect(plain(await s.getAllTrials(studyId))).toEqual(plain(trials));
    expect(readFileSync(path).length).toBe(size); // only the fragment was removed
    const t = await s.createTrial(studyId);
    await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [7] });
    await s.close();
    for (const line of lines(path)) expect(() => JSON.parse(line)).not.toThrow();
    const again = new JournalStorage({ path });
    expect((await again.getTrial(t.trialId)).values).toEqual([7]);
    await again.close();
  });

  it('leaves a last line without newline alone while a live writer holds the lock', async () => {
    const path = freshPath();
    const { studyId, trials } = await populate(path);
    const fragment = '{"op":"claim","writer":"1-x","seq":0,"studyId":0,';
    appendFileSync(path, fragment);
    // This process holds the lock (as if it were in the middle of that write).
    writeFileSync(`${path}.lock`, `${process.pid} ${hostname()} held-0\n`);
    const s = new JournalStorage({ path });
    expect(warned('JOURNAL_TORN_LINE')).toBe(false);
    expect(readFileSync(path, 'utf8').endsWith(fragment)).toBe(true);
    expect((await s.getAllTrials(studyId)).length).toBe(trials.length);
    // The "write" completes: readers pick it up.
    appendFileSync(path, '"key":"late"}\n');
    expect(await s.claim(studyId, 'late')).toBe(false);
    rmSync(`${path}.lock`);
    expect(await s.claim(studyId, 'fresh')).toBe(true);
    await s.close();
    expect(warned('JOURNAL_TORN_LINE')).toBe(false);
  });

  it('rejects a corrupt line in the middle with STORAGE_CORRUPT and its line number', async () => {
    const path = freshPath();
    await populate(path);
    const all = lines(path);
    all[4] = '{"op":"createTrial", this is not json';
    writeFileSync(path, `${all.join('\n')}\n`);
    expect(() => new JournalStorage({ path })).toThrow(expect.objectContaining({ code: 'STORAGE_CORRUPT', message: expect.stringContaining('line 5') }));

    // Valid JSON that cannot be replayed (a trial finished twice) is corruption as well.
    const path2 = freshPath();
    await populate(path2);
    const all2 = lines(path2);
    const finish = all2.findIndex((l) => l.includes('"op":"finishTrial"'));
    writeFileSync(path2, `${[...all2, all2[finish]].join('\n')}\n`);
    expect(() => new JournalStorage({ path: path2 })).toThrow(
      expect.objectContaining({ code: 'STORAGE_CORRUPT', message: expect.stringContaining(`line ${all2.length + 1}`) }),
    );
  });

  it('refuses to write once its file was deleted or replaced, instead of writing into the unlinked file', async () => {
    for (const how of ['deleted', 'replaced'] as const) {
      const path = freshPath();
      const s = new JournalStorage({ path });
      const id = await s.createStudy('s', ['minimize']);
      const t = await s.createTrial(id);
      rmSync(path);
      if (how === 'replaced') {
        const other = new JournalStorage({ path });
        await other.createStudy('other', ['maximize']);
        await other.close();
      }
      await expect(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] })).rejects.toMatchObject({
        code: 'STORAGE_ERROR',
        message: expect.stringContaining(how === 'deleted' ? 'was deleted' : 'was replaced'),
      });
      // Every later call refuses too; nothing was written to the file now at the path.
      await expect(s.createTrial(id)).rejects.toMatchObject({ code: 'STORAGE_ERROR' });
      await expect(s.getAllTrials(id)).rejects.toMatchObject({ code: 'STORAGE_ERROR' });
      if (how === 'replaced') {
        const reopened = new JournalStorage({ path });
        expect((await reopened.getAllStudies()).map((x) => x.studyName)).toEqual(['other']);
        await reopened.close();
      } else {
        expect(existsSync(path)).toBe(false);
      }
      await s.close();
    }
  });

  it('rejects files that are not version-1 Kestrel journals, without touching them', () => {
    const cases = [
      '{"op":"header","format":"optuna-journal","version":1}\n',
      '{"op":"header","format":"kestrel-journal","version":2}\n',
      'hello world\n',
      'just text without newline',
      '[1,2,3]\n',
    ];
    for (const content of cases) {
      const path = freshPath('log');
      writeFileSync(path, content);
      expect(() => new JournalStorage({ path })).toThrow(expect.objectContaining({ code: 'STORAGE_ERROR' }));
      expect(readFileSync(path, 'utf8')).toBe(content);
    }
  });

  it.runIf(process.platform === 'linux')('refuses a path that is not a regular file (a FIFO, a device) with StorageError', async () => {
    // A FIFO opened for reading waits (forever) for a writer: hold its write end open here so that
    // the open returns, and check that the journal is refused rather than read as an empty one.
    const fifo = freshPath();
    execFileSync('mkfifo', [fifo]);
    const writeEnd = openSync(fifo, 'r+');
    try {
      for (const readOnly of [true, false]) {
        expect(() => new JournalStorage({ path: fifo, readOnly })).toThrow(
          expect.objectContaining({ code: 'STORAGE_ERROR', message: expect.stringMatching(/not a regular file \(a FIFO\)/) }),
        );
      }
    } finally {
      closeSync(writeEnd);
    }
    expect(existsSync(`${fifo}.lock`)).toBe(false);
    // A character device: /dev/null would "open" as an empty journal and swallow every write.
    for (const readOnly of [true, false]) {
      expect(() => new JournalStorage({ path: '/dev/null', readOnly })).toThrow(
        expect.objectContaining({ code: 'STORAGE_ERROR', message: expect.stringMatching(/not a regular file \(a character device\)/) }),
      );
    }
    expect(existsSync('/dev/null.lock')).toBe(false);
  });

  it('creates missing directories one level at a time, naming the one it cannot create', () => {
    const file = freshPath('txt');
    writeFileSync(file, 'x');
    // Recursive mkdir reported a bare EEXIST of the file, not that it is in the way.
    expect(() => new JournalStorage({ path: join(file, 'sub', 'j.journal') })).toThrow(
      expect.objectContaining({ code: 'STORAGE_ERROR', message: `cannot create the directory ${file} of the journal ${join(file, 'sub', 'j.journal')}: a file of that name is in the way` }),
    );
    const deep = join(root, `d${counter++}`, 'a', 'b', 'j.journal');
    const s = new JournalStorage({ path: deep });
    expect(existsSync(deep)).toBe(true);
    void s.close();
  });

  it.runIf(process.platform === 'linux')('rejects a journal under /proc instead of hanging in mkdir', () => {
    // Node 20's recursive mkdirSync never returns for a path under /proc: run it in a child, bounded.
    const code =
      "const { JournalStorage } = await import('./src/storage/journal-storage.ts');" +
      "try { new JournalStorage({ path: '/proc/kestrel-no-such-dir/j.journal' }); console.log('opened'); }" +
      'catch (e) { console.log(e.code, e.message); }';
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    expect(child.signal, 'the child was killed by the timeout: the constructor hung').toBeNull();
    expect(child.stdout).toMatch(/^STORAGE_ERROR cannot create the directory \/proc\/kestrel-no-such-dir of the journal /);
  });

  it('validates its options', () => {
    expect(() => new JournalStorage({ path: '' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', option: 'path' }));
    expect(() => new JournalStorage({ path: freshPath(), lockStaleMs: -1 })).toThrow(
      expect.objectContaining({ option: 'lockStaleMs' }),
    );
    expect(() => new JournalStorage(undefined as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('rejects an unknown option (a misspelt one was silently ignored) and an array, naming them', () => {
    // `readonly` (for readOnly) opened the journal for writing; `lockTimeout` kept the 60 s default.
    for (const key of ['readonly', 'lockTimeout']) {
      const path = freshPath();
      expect(() => new JournalStorage({ path, [key]: 1 } as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION', option: key }),
      );
      expect(existsSync(path)).toBe(false);
    }
    expect(() => new JournalStorage([] as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', option: 'JournalStorage' }));
  });

  it('refuses new datetimes a Date cannot hold, but still opens a journal that holds one', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    const far = 1.7e18;
    await expect(s.createTrial(id, { state: 'COMPLETE', values: [1], datetimeStart: far })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      option: 'template.datetimeStart',
    });
    const t = await s.createTrial(id);
    await expect(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1], datetimeComplete: -far })).rejects.toMatchObject({
      option: 'finish.datetimeComplete',
    });
    await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1], datetimeComplete: 8.64e15 });
    // A record written before the check (by an older Kestrel) replays as it is.
    const record = { op: 'createTrial', writer: 'old', seq: 0, studyId: id, trialId: 1, t: 1, template: { state: 'COMPLETE', values: [2], datetimeStart: far, datetimeComplete: far } };
    appendFileSync(path, `${JSON.stringify(record)}\n`);
    const again = new JournalStorage({ path });
    expect((await again.getAllTrials(id)).map((x) => x.datetimeStart)).toEqual([t.datetimeStart, far]);
    await again.close();
    await s.close();
  });

  it('recovers a lock older than lockStaleMs; times out on a live one and on one it cannot judge', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path, lockStaleMs: 60_000, lockTimeoutMs: 50 });
    const id = await s.createStudy('s', ['minimize']);

    // A live holder (this process, fresh lock): the write waits, then times out.
    writeFileSync(`${path}.lock`, `${process.pid} ${hostname()} live-0\n`);
    await expect(s.createTrial(id)).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringContaining('timed out') });
    // A fresh lock of an earlier version (`pid host token`, no PID namespace), whose pid is not a
    // process here: it may be a live writer in another container of this host name. Waited for.
    writeFileSync(`${path}.lock`, `${NO_SUCH_PID} ${hostname()} old-version-0\n`);
    await expect(s.createTrial(id)).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringContaining('timed out') });
    expect(await s.getNTrials(id)).toBe(0);

    // A holder elsewhere (other host), older than lockStaleMs: broken by age.
    const t = new JournalStorage({ path, lockStaleMs: 1_000, lockTimeoutMs: 5_000 });
    writeFileSync(`${path}.lock`, `123 some-other-host old-0\n`);
    const past = (Date.now() - 10_000) / 1000;
    utimesSync(`${path}.lock`, past, past);
    expect((await t.createTrial(id)).number).toBe(0);
    expect(existsSync(`${path}.lock`)).toBe(false);
    expect(existsSync(`${path}.lock.break`)).toBe(false);
    // The warning says why: its age (the holder could not be judged), not a death it never saw.
    expect(warning('JOURNAL_STALE_LOCK')).toMatch(/older than lockStaleMs \(1000 ms\)/);
    expect(warning('JOURNAL_STALE_LOCK')).not.toMatch(/died/);
    await s.close();
    await t.close();
  });

  it.runIf(me !== null)('recovers at once a lock whose holder (this host, boot and PID namespace) has exited', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path, lockStaleMs: 60_000, lockTimeoutMs: 50 });
    const id = await s.createStudy('s', ['minimize']);
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.on('exit', resolve));
    writeFileSync(`${path}.lock`, lockLine({ ...me!, pid: dead.pid! }, 'dead-0'));
    expect((await s.createTrial(id)).number).toBe(0);
    expect(warning('JOURNAL_STALE_LOCK')).toMatch(/its holder \(pid \d+\) has exited/);
    expect(existsSync(`${path}.lock`)).toBe(false);
    await s.close();
  });
});

describe('JournalStorage record checksums', () => {
  const fixture = fileURLToPath(new URL('./fixtures/v1-without-checksums.journal', import.meta.url));
  /** `"crc":"<8 hex>"` as the last member of a record line. */
  const CRC_MEMBER = /,"crc":"([0-9a-f]{8})"\}$/;

  /** Rewrites line `index` (0-based) of the journal at `path`. */
  function damage(path: string, index: number, edit: (line: string) => string): void {
    const all = lines(path);
    const edited = edit(all[index] as string);
    expect(edited).not.toBe(all[index]);
    all[index] = edited;
    writeFileSync(path, `${all.join('\n')}\n`);
  }

  it('ends every record it writes with the CRC-32 of the line before that member', async () => {
    const path = freshPath();
    await populate(path);
    const all = lines(path);
    expect(all[0]).toBe('{"op":"header","format":"kestrel-journal","version":1}'); // the header carries none
    for (const line of all.slice(1)) {
      const match = CRC_MEMBER.exec(line);
      expect(match, line).not.toBeNull();
      const summed = line.slice(0, -match![0].length);
      expect(Number.parseInt(match![1]!, 16)).toBe(crc32(Buffer.from(summed, 'utf8')));
      const record = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(record).at(-1)).toBe('crc');
    }
  });

  it('rejects a record changed after it was written, though it still parses, with STORAGE_CORRUPT naming the line', async () => {
    const path = freshPath();
    const { studyId } = await populate(path);
    const index = lines(path).findIndex((l) => l.includes('"op":"finishTrial"'));
    // Bit rot in a digit: "values":[0] becomes [1], still valid JSON and a valid record.
    damage(path, index, (line) => line.replace('"values":[0]', '"values":[1]'));
    for (const readOnly of [false, true]) {
      expect(() => new JournalStorage({ path, readOnly })).toThrow(
        expect.objectContaining({
          code: 'STORAGE_CORRUPT',
          message: expect.stringMatching(new RegExp(`line ${index + 1} .*checksum`)),
        }),
      );
    }
    // The lines before it are a journal on their own (the README's recovery).
    const head = freshPath();
    writeFileSync(head, `${lines(path).slice(0, index).join('\n')}\n`);
    const recovered = new JournalStorage({ path: head, readOnly: true });
    expect(await recovered.getNTrials(studyId)).toBe(1);
    await recovered.close();
  });

  it('rejects a damaged last complete line the same way, and one damaged while another storage has the file open', async () => {
    const path = freshPath();
    const s = new JournalStorage({ path });
    const id = await s.createStudy('s', ['minimize']);
    await s.createTrial(id);
    const n = lines(path).length;
    damage(path, n - 1, (line) => line.replace('"trialId":0', '"trialId":5'));
    expect(() => new JournalStorage({ path })).toThrow(
      expect.objectContaining({ code: 'STORAGE_CORRUPT', message: expect.stringMatching(new RegExp(`line ${n} .*checksum`)) }),
    );

    // A reader catching up meets the damaged record as it is appended.
    const path2 = freshPath();
    const writer = new JournalStorage({ path: path2 });
    const id2 = await writer.createStudy('s', ['minimize']);
    const reader = new JournalStorage({ path: path2 });
    const t = await writer.createTrial(id2);
    await writer.finishTrial(t.trialId, { state: 'COMPLETE', values: [0.25] });
    await writer.close();
    damage(path2, 3, (line) => line.replace('0.25', '0.75'));
    await expect(reader.getAllTrials(id2)).rejects.toMatchObject({ code: 'STORAGE_CORRUPT', message: expect.stringMatching(/line 4 .*checksum/) });
    await reader.close();
    await s.close();
  });

  it('rejects a checksum member that is damaged itself', async () => {
    const edits: [string, (line: string) => string][] = [
      ['another digit', (line) => line.replace(CRC_MEMBER, (m, hex: string) => m.replace(hex, (Number.parseInt(hex, 16) ^ 1).toString(16).padStart(8, '0')))],
      ['not hex', (line) => line.replace(CRC_MEMBER, ',"crc":"0000000g"}')],
      ['upper case', (line) => line.replace(CRC_MEMBER, ',"crc":"DEADBEEF"}')],
      ['a number', (line) => line.replace(CRC_MEMBER, ',"crc":12345678}')],
      ['not last', (line) => line.replace(CRC_MEMBER, (m, hex: string) => `,"crc":"${hex}","x":1}`)],
    ];
    for (const [what, edit] of edits) {
      const path = freshPath();
      await populate(path);
      damage(path, 2, edit);
      expect(() => new JournalStorage({ path }), what).toThrow(
        expect.objectContaining({ code: 'STORAGE_CORRUPT', message: expect.stringMatching(/line 3 .*checksum/) }),
      );
    }
  });

  it('checks the checksums of a journal whose line ends were converted to CRLF (git autocrlf, a Windows editor)', async () => {
    const path = freshPath();
    const { studyId, trials } = await populate(path);
    const crlf = (text: string): string => text.replace(/\r?\n/g, '\r\n');
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, crlf(original));
    const s = new JournalStorage({ path, readOnly: true });
    expect((await s.getAllTrials(studyId)).map((t) => [t.state, t.values])).toEqual(trials.map((t) => [t.state, t.values]));
    await s.close();
    // A changed record is still caught through the carriage return.
    writeFileSync(path, crlf(original.replace('"values":[0]', '"values":[1]')));
    expect(() => new JournalStorage({ path, readOnly: true })).toThrow(
      expect.objectContaining({ code: 'STORAGE_CORRUPT', message: expect.stringMatching(/line \d+ .*fails its checksum/) }),
    );
  });

  it('loads a journal written before checksums unchanged, and appends checksummed records to it', async () => {
    const path = freshPath();
    copyFileSync(fixture, path);
    const before = readFileSync(path);
    const s = new JournalStorage({ path });
    const id = await s.getStudyIdFromName('legacy');
    expect(await s.getStudyDirections(id)).toEqual(['minimize', 'maximize']);
    expect(await s.getStudyUserAttrs(id)).toEqual({ cfg: { lr: [0.1, 0.01], note: 'naïve ✓' } });
    expect(await s.getStudySystemAttrs(id)).toEqual({ sampler: 'tpe' });
    const trials = await s.getAllTrials(id);
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'FAIL', 'WAITING', 'PRUNED']);
    expect(trials[0]?.values).toEqual([0.5, -3]);
    expect(trials[0]?.params).toEqual({ x: 0.25 });
    expect(trials[0]?.intermediateValues).toEqual({ 0: 1.5, 1: Number.NaN });
    expect(trials[0]?.userAttrs).toEqual({ tag: 'a' });
    expect(trials[1]?.systemAttrs).toEqual({ fail_reason: 'boom' });
    expect(trials[2]?.params).toEqual({ x: 0.75 });
    expect(await s.claim(id, 'grid-0')).toBe(false);
    expect(readFileSync(path).equals(before)).toBe(true); // loading wrote nothing

    const popped = await s.popWaitingTrial(id);
    await s.finishTrial(popped!.trialId, { state: 'COMPLETE', values: [1, 2] });
    await s.close();
    const after = readFileSync(path);
    expect(after.subarray(0, before.length).equals(before)).toBe(true); // the old records are untouched
    const added = after.subarray(before.length).toString('utf8').trimEnd().split('\n');
    expect(added).toHaveLength(2);
    for (const line of added) expect(line).toMatch(CRC_MEMBER);

    const again = new JournalStorage({ path, readOnly: true });
    expect((await again.getAllTrials(id)).map((t) => t.state)).toEqual(['COMPLETE', 'FAIL', 'COMPLETE', 'PRUNED']);
    expect((await again.getTrial(popped!.trialId)).values).toEqual([1, 2]);
    await again.close();
  });

  it('replays a changed value in a record written before checksums as before: nothing can tell it from the original', async () => {
    // Without a checksum nothing tells a changed value from the original: the old behaviour stays.
    const path = freshPath();
    copyFileSync(fixture, path);
    damage(path, 6, (line) => line.replace('"values":[0.5,-3]', '"values":[0.5,-4]'));
    const s = new JournalStorage({ path, readOnly: true });
    expect((await s.getTrial(0)).values).toEqual([0.5, -4]);
    await s.close();
  });
});

describe('JournalStorage through a symbolic link', () => {
  it('takes the lock of the file the link names, so a write waits while the journal is locked', async () => {
    const path = freshPath();
    const link = freshPath();
    symlinkSync(path, link);
    const s = new JournalStorage({ path });
    await s.createStudy('s', ['minimize']);
    // The journal's lock, held by a live process of this host (this one: never judged stale by pid).
    writeFileSync(`${path}.lock`, `${process.pid} ${hostname()} other-0\n`);
    const viaLink = new JournalStorage({ path: link, lockTimeoutMs: 200 });
    await expect(viaLink.createStudy('t', ['minimize'])).rejects.toThrow(/timed out after 200 ms waiting for the lock/);
    rmSync(`${path}.lock`);
    await viaLink.close();
    await s.close();
  });
});

// ---------------------------------------------------------------------------------------------
// Several processes on one journal
// ---------------------------------------------------------------------------------------------

interface WriterOutput {
  readonly done: { trialId: number; number: number; value: number }[];
  readonly claims: string[];
  ended: boolean;
}

function startWriter(
  path: string,
  n: number,
  onLine?: (out: WriterOutput) => void,
  env: Record<string, string> = {},
): { child: ChildProcess; out: WriterOutput; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/storage/fixtures/journal-writer.ts', path, String(n), '2000'], {
    cwd: process.cwd(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: WriterOutput = { done: [], claims: [], ended: false };
  let pending = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const [kind, a, b, c] = pending.slice(0, nl).split(' ');
      pending = pending.slice(nl + 1);
      if (kind === 'done') out.done.push({ trialId: Number(a), number: Number(b), value: Number(c) });
      else if (kind === 'claim') out.claims.push(a);
      else if (kind === 'end') out.ended = true;
      onLine?.(out);
      nl = pending.indexOf('\n');
    }
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(stderr);
      resolve(code);
    });
  });
  return { child, out, exited };
}

describe('JournalStorage across processes', () => {
  let warnings: ReturnType<typeof vi.spyOn>;
  beforeEach(() => {
    warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  });
  afterEach(() => {
    warnings.mockRestore();
  });

  it('4 processes x 50 trials: numbers 0..199 once each, every claim key won once', async () => {
    const path = freshPath();
    const writers = Array.from({ length: 4 }, () => startWriter(path, 50));
    const codes = await Promise.all(writers.map((w) => w.exited));
    expect(codes).toEqual([0, 0, 0, 0]);
    for (const w of writers) {
      expect(w.out.ended).toBe(true);
      expect(w.out.done.length).toBe(50);
    }
    const numbers = writers.flatMap((w) => w.out.done.map((d) => d.number)).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const claims = writers.flatMap((w) => w.out.claims).sort();
    expect(claims).toEqual(Array.from({ length: 50 }, (_, i) => `key-${i}`).sort());

    const s = new JournalStorage({ path });
    const id = await s.getStudyIdFromName('mp');
    const trials = await s.getAllTrials(id);
    expect(trials.map((t) => t.number)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(trials.every((t) => t.state === 'COMPLETE')).toBe(true);
    const byId = new Map(trials.map((t) => [t.trialId, t]));
    for (const w of writers) for (const d of w.out.done) expect(byId.get(d.trialId)?.values).toEqual([d.value]);
    for (const key of claims) expect(await s.claim(id, key)).toBe(false);
    await s.close();
  });

  it('4 processes creating with createTrialIfBelow(120): exactly 120 trials, numbers 0..119 once each', async () => {
    const path = freshPath();
    const writers = Array.from({ length: 4 }, () => startWriter(path, 0, undefined, { KESTREL_TEST_MAX_TRIALS: '120' }));
    expect(await Promise.all(writers.map((w) => w.exited))).toEqual([0, 0, 0, 0]);
    for (const w of writers) expect(w.out.ended).toBe(true);
    const numbers = writers.flatMap((w) => w.out.done.map((d) => d.number)).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 120 }, (_, i) => i));
    const s = new JournalStorage({ path });
    const id = await s.getStudyIdFromName('mp');
    expect(await s.getNTrials(id)).toBe(120);
    expect(await s.getNTrials(id, { states: ['COMPLETE'] })).toBe(120);
    await s.close();
  });

  it('2 processes by the path and 2 by a symlink to it, createTrialIfBelow(120): 120 trials, a readable journal', async () => {
    const path = freshPath();
    const link = freshPath();
    symlinkSync(path, link);
    const env = { KESTREL_TEST_MAX_TRIALS: '120' };
    const writers = [path, link, path, link].map((p) => startWriter(p, 0, undefined, env));
    expect(await Promise.all(writers.map((w) => w.exited))).toEqual([0, 0, 0, 0]);
    const numbers = writers.flatMap((w) => w.out.done.map((d) => d.number)).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 120 }, (_, i) => i));
    const s = new JournalStorage({ path });
    expect(await s.getNTrials(await s.getStudyIdFromName('mp'))).toBe(120);
    await s.close();
  });

  it('a writer SIGKILLed mid-run loses nothing it reported finished; a new writer continues', async () => {
    const path = freshPath();
    let resolveEnough: () => void = () => undefined;
    const enough = new Promise<void>((resolve) => {
      resolveEnough = resolve;
    });
    const writer = startWriter(path, 0, (out) => {
      if (out.done.length >= 30) resolveEnough();
    });
    await enough;
    writer.child.kill('SIGKILL');
    await writer.exited;
    const reported = [...writer.out.done];

    // Whether or not it died holding the lock, simulate that it did: its lock file names its pid.
    // (Without a process identity, not Linux, that lock is waited out: lockStaleMs, 2 s here.)
    const pid = writer.child.pid!;
    writeFileSync(`${path}.lock`, me === null ? `${pid} ${hostname()} killed-0\n` : lockLine({ ...me, pid }, 'killed-0'));
    const s = new JournalStorage({ path, lockStaleMs: 2_000 });
    const id = await s.getStudyIdFromName('mp');
    for (const d of reported) {
      const t = await s.getTrial(d.trialId);
      expect(t.state).toBe('COMPLETE');
      expect(t.values).toEqual([d.value]);
    }
    const before = await s.getNTrials(id);
    const t = await s.createTrial(id);
    expect(t.number).toBe(before);
    await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [42] });
    await s.close();
    const again = new JournalStorage({ path });
    expect((await again.getTrial(t.trialId)).values).toEqual([42]);
    await again.close();
    for (const line of lines(path)) expect(() => JSON.parse(line)).not.toThrow();
  });
});
