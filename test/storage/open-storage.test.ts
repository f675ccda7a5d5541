import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JournalStorage } from '../../src/storage/journal-storage.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { openStorage } from '../../src/storage/open-storage.js';

const root = mkdtempSync(join(tmpdir(), 'kestrel-open-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('openStorage', () => {
  it('gives an in-memory storage for undefined, "memory" and ":memory:"', async () => {
    for (const spec of [undefined, 'memory', ':memory:']) {
      const s = openStorage(spec);
      expect(s).toBeInstanceOf(InMemoryStorage);
      await s.close();
    }
    expect(openStorage(undefined)).not.toBe(openStorage(undefined));
  });

  it('returns a Storage object as it is', () => {
    const s = new InMemoryStorage();
    expect(openStorage(s)).toBe(s);
  });

  it('refuses a custom storage without createTrialIfBelow (study-wide budgets need it)', () => {
    const s = new InMemoryStorage();
    const partial = new Proxy(s, { get: (target, key) => (key === 'createTrialIfBelow' ? undefined : Reflect.get(target, key)) });
    expect(() => openStorage(partial)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', option: 'storage' }));
  });

  it('refuses a custom storage missing any method of Storage (a study would fail later with a TypeError)', () => {
    const methods = [
      'createStudy', 'deleteStudy', 'getStudyIdFromName', 'getStudyName', 'getStudyDirections', 'getAllStudies',
      'setStudyUserAttr', 'setStudySystemAttr', 'getStudyUserAttrs', 'getStudySystemAttrs', 'createTrial',
      'createTrialIfBelow', 'popWaitingTrial', 'updateTrial', 'finishTrial', 'getTrial', 'getAllTrials',
      'getNTrials', 'claim', 'close',
    ];
    const s = new InMemoryStorage();
    for (const missing of methods) {
      const partial = new Proxy(s, { get: (target, key) => (key === missing ? undefined : Reflect.get(target, key)) });
      expect(() => openStorage(partial), missing).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', option: 'storage' }));
    }
  });

  it('accepts a custom storage without the optional areClaimed', () => {
    const s = new InMemoryStorage();
    const partial = new Proxy(s, { get: (target, key) => (key === 'areClaimed' ? undefined : Reflect.get(target, key)) });
    expect(openStorage(partial)).toBe(partial);
  });

  it('opens a journal for .journal/.jsonl/.log paths and journal: URLs', async () => {
    const specs = [
      join(root, 'a.journal'),
      join(root, 'b.jsonl'),
      join(root, 'c.log'),
      `journal:${join(root, 'd.txt')}`,
      `journal://${join(root, 'e.data')}`,
    ];
    for (const spec of specs) {
      const s = openStorage(spec);
      expect(s).toBeInstanceOf(JournalStorage);
      const id = await s.createStudy('s', ['minimize']);
      expect(await s.getStudyName(id)).toBe('s');
      await s.close();
    }
    expect((openStorage(`journal://${join(root, 'e.data')}`) as JournalStorage).path).toBe(join(root, 'e.data'));
  });

  it('says that PostgreSQL is not built in yet', () => {
    expect(() => openStorage('postgresql://user@localhost/db')).toThrow(
      expect.objectContaining({ code: 'STORAGE_ERROR', message: expect.stringContaining('PostgreSQL') }),
    );
  });

  it('rejects anything else naming the option "storage"', () => {
    for (const bad of ['', 'sqlite:///x.db', 'study.db', 'journal:', '.journal', 42, {}, null]) {
      expect(() => openStorage(bad as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', option: 'storage' }));
    }
  });
});
