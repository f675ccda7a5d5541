/**
 * JournalStorage at the size limits of one process: a record too large to be read back as one
 * string, and a backlog larger than one Buffer can hold. Each test uses a few hundred MB of memory
 * or a sparse file, and runs in a few seconds.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:buffer';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { JournalStorage } from '../../src/storage/journal-storage.js';

const root = mkdtempSync(join(tmpdir(), 'kestrel-journal-limits-'));
let n = 0;
const freshPath = (): string => join(root, `j${n++}.journal`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a record larger than a line can be read back', () => {
  it('is refused with StorageError, writes nothing and leaves the state unchanged', async () => {
    const path = freshPath();
    const storage = new JournalStorage({ path });
    const studyId = await storage.createStudy('s', ['minimize']);
    const trial = await storage.createTrial(studyId);
    const sizeBefore = statSync(path).size;
    // Fewer characters than a string may hold, but more UTF-8 bytes than one line can be decoded from.
    const blob = '\u00e9'.repeat(Math.ceil(constants.MAX_STRING_LENGTH / 2) + 16);
    const error = await storage.updateTrial(trial.trialId, { userAttrs: { blob } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe('STORAGE_ERROR');
    expect((error as Error).message).toMatch(/too large/);
    expect(statSync(path).size).toBe(sizeBefore);
    expect((await storage.getTrial(trial.trialId)).userAttrs).toEqual({});
    // Still writable, and the journal still opens.
    await storage.finishTrial(trial.trialId, { state: 'COMPLETE', values: [1] });
    await storage.close();
    const reopened = new JournalStorage({ path, readOnly: true });
    expect((await reopened.getTrial(trial.trialId)).state).toBe('COMPLETE');
    await reopened.close();
  }, 60_000);
});

describe('a backlog larger than one Buffer', () => {
  it('reads lines that span the pieces it is read in (64 MiB) whole', async () => {
    const path = freshPath();
    const writer = new JournalStorage({ path });
    const reader = new JournalStorage({ path, readOnly: true });
    const studyId = await writer.createStudy('s', ['minimize']);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const trial = await writer.createTrial(studyId, { userAttrs: { blob: String(i).repeat(30_000_001) } });
      ids.push(trial.trialId);
    }
    await writer.close();
    for (const r of [reader, new JournalStorage({ path, readOnly: true })]) {
      const trials = await r.getAllTrials(studyId);
      expect(trials.map((t) => t.trialId)).toEqual(ids);
      trials.forEach((t, i) => expect(t.userAttrs.blob).toBe(String(i).repeat(30_000_001)));
      await r.close();
    }
  }, 60_000);

  it('is read in pieces: a sparse file of 4.5 GB is reported as STORAGE_CORRUPT, not a RangeError', () => {
    const path = freshPath();
    writeFileSync(path, '{"op":"header","format":"kestrel-journal","version":1}\n');
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, 4.5 * 2 ** 30); // a hole of zeros: one "line" without a newline, longer than any record
    closeSync(fd);
    let error: unknown;
    try {
      new JournalStorage({ path, readOnly: true });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe('STORAGE_CORRUPT');
    expect((error as Error).message).toMatch(/line 2/);
  }, 60_000);
});
