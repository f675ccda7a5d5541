/**
 * The read-only commands (`trials`, `best`, `studies`) open the journal strictly read-only: no
 * lock taken, no lock file created, nothing written (a torn last line is ignored in memory, left on
 * disk), so they never interfere with a writer and work on a journal the user can only read.
 * "Nothing modified" is checked on the journal's bytes and mtime and on its directory's mtime
 * (creating and removing `<journal>.lock` changes the directory's mtime).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStudy } from '../../src/study/create-study.js';
import { makeTempDir, runInProcess } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let n = 0;
const holders: ChildProcess[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('read-only'));
});
afterEach(() => {
  for (const child of holders.splice(0)) child.kill('SIGKILL');
});
afterAll(async () => {
  await cleanup();
});

/** A fresh journal in its own directory holding study "s" with `nTrials` complete trials (value = trial number). */
async function journalWith(nTrials: number): Promise<{ folder: string; journal: string }> {
  const folder = path.join(dir, `case${n++}`);
  const journal = path.join(folder, 's.journal');
  const study = await createStudy({ studyName: 's', storage: journal });
  for (let i = 0; i < nTrials; i++) {
    const trial = await study.ask();
    trial.suggestFloat('x', 0, 1);
    await study.tell(trial, i);
  }
  await study.close();
  return { folder, journal };
}

interface Snapshot {
  readonly bytes: Buffer;
  readonly mtimeNs: bigint;
  readonly dirMtimeNs: bigint;
  readonly entries: string[];
}

function snapshot(folder: string, journal: string): Snapshot {
  return {
    bytes: readFileSync(journal),
    mtimeNs: statSync(journal, { bigint: true }).mtimeNs,
    dirMtimeNs: statSync(folder, { bigint: true }).mtimeNs,
    entries: readdirSync(folder).sort(),
  };
}

function expectUntouched(folder: string, journal: string, before: Snapshot): void {
  const after = snapshot(folder, journal);
  expect(after.bytes.equals(before.bytes), 'journal bytes').toBe(true);
  expect(after.mtimeNs, 'journal mtime').toBe(before.mtimeNs);
  expect(after.entries, 'directory entries').toEqual(before.entries);
  expect(after.dirMtimeNs, 'directory mtime (no lock file created and removed)').toBe(before.dirMtimeNs);
}

/** Runs trials (json), best (json) and studies on `journal`; returns the complete trial numbers, the best value and the studies table. */
async function readAll(journal: string): Promise<{ complete: number[]; best: number; studies: string }> {
  const trials = await runInProcess(['trials', 's', '--storage', journal, '--format', 'json'], dir);
  expect(trials.stderr).toBe('');
  expect(trials.code).toBe(0);
  const parsed = JSON.parse(trials.stdout) as { number: number; state: string }[];
  const best = await runInProcess(['best', 's', '--storage', journal, '--format', 'json'], dir);
  expect(best.code, best.stderr).toBe(0);
  const studies = await runInProcess(['studies', '--storage', journal], dir);
  expect(studies.code, studies.stderr).toBe(0);
  return {
    complete: parsed.filter((t) => t.state === 'COMPLETE').map((t) => t.number),
    best: (JSON.parse(best.stdout) as { value: number }).value,
    studies: studies.stdout,
  };
}

/**
 * Starts a process that holds `<journal>.lock` as `FileLock` does (O_EXCL, `pid host token`, kept
 * open) until killed; resolves once the lock file exists.
 */
async function holdLock(journal: string): Promise<ChildProcess> {
  const script = `
    const fs = require('node:fs');
    const fd = fs.openSync(process.argv[1], 'wx');
    fs.writeSync(fd, process.pid + ' ' + process.argv[2] + ' holder-token\\n');
    process.stdout.write('held\\n');
    setInterval(() => {}, 1 << 30);
  `;
  const child = spawn(process.execPath, ['-e', script, `${journal}.lock`, hostname()], { stdio: ['ignore', 'pipe', 'inherit'] });
  holders.push(child);
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('held')) resolve();
    });
  });
  return child;
}

describe('read-only commands on a journal', () => {
  it('leave a torn last line on disk (no lock taken, nothing truncated) and show the complete trials', async () => {
    const { folder, journal } = await journalWith(3);
    appendFileSync(journal, '{"op":"createTrial","writer":"1-abcdef","seq":9,"stu');
    const before = snapshot(folder, journal);
    const read = await readAll(journal);
    expect(read.complete).toEqual([0, 1, 2]);
    expect(read.best).toBe(0);
    expect(read.studies).toMatch(/^s\s+minimize\s+3\s+0\s*$/m);
    expectUntouched(folder, journal, before);
  });

  it('read while another live process holds the lock mid-write: no waiting, the lock and the file left alone, finished trials shown', async () => {
    const { folder, journal } = await journalWith(3);
    // The writer is half-way through appending the record that finishes trial 2.
    const text = readFileSync(journal, 'utf8');
    const lastStart = text.lastIndexOf('\n', text.length - 2) + 1;
    const lastLine = text.slice(lastStart);
    expect(lastLine).toMatch(/"op":"finishTrial"/);
    const cut = lastStart + Math.floor(lastLine.length / 2);
    writeFileSync(journal, text.slice(0, cut));
    const holder = await holdLock(journal);
    // A lock older than lockStaleMs (10 s): a process that takes the lock would judge it stale and
    // break it even though its holder is alive (a writer stuck in a long synchronous step).
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${journal}.lock`, old, old);
    const lockBefore = { ino: statSync(`${journal}.lock`).ino, content: readFileSync(`${journal}.lock`, 'utf8') };
    const before = snapshot(folder, journal);

    const started = Date.now();
    const read = await readAll(journal);
    expect(Date.now() - started, 'ms for three commands (the lock timeout is 60 s)').toBeLessThan(5_000);
    expect(read.complete).toEqual([0, 1]);
    expect(read.studies).toMatch(/^s\s+minimize\s+3\s+0\s*$/m); // trial 2 is still RUNNING
    expectUntouched(folder, journal, before);
    expect(statSync(`${journal}.lock`).ino, 'the holder keeps its lock').toBe(lockBefore.ino);
    expect(readFileSync(`${journal}.lock`, 'utf8')).toBe(lockBefore.content);
    expect(holder.exitCode).toBeNull();

    // The writer completes its line: the next read shows trial 2 finished.
    appendFileSync(journal, text.slice(cut));
    expect((await readAll(journal)).complete).toEqual([0, 1, 2]);
  });

  it('work on a journal file with mode 444 in a writable directory, leaving its torn last line alone', async () => {
    const { folder, journal } = await journalWith(2);
    appendFileSync(journal, '{"op":"finishTr');
    chmodSync(journal, 0o444);
    const before = snapshot(folder, journal);
    const read = await readAll(journal);
    expect(read.complete).toEqual([0, 1]);
    expect(read.best).toBe(0);
    expectUntouched(folder, journal, before);
    expect(statSync(journal).mode & 0o777).toBe(0o444);
  });

  it('report a missing journal as a usage error (exit 2) naming it, creating nothing', async () => {
    const missing = path.join(dir, 'nope', 'missing.journal');
    const result = await runInProcess(['trials', 's', '--storage', missing], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/INVALID_CONFIG: --storage: no journal file at .*missing\.journal/);
    expect(readdirSync(dir)).not.toContain('nope');
  });

  it('report a directory given as --storage as a usage error (exit 2) naming it (not an UNEXPECTED EISDIR)', async () => {
    const folder = path.join(dir, `case${n++}`);
    mkdirSync(folder);
    for (const args of [['studies'], ['trials', 's'], ['best', 's']]) {
      const result = await runInProcess([...args, '--storage', folder], dir);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^kestrel: INVALID_CONFIG: --storage: .*case\d+ is a directory, not a journal file$/m);
    }
    expect(readdirSync(folder)).toEqual([]);
  });

  it('report a file that is not a journal as STORAGE_ERROR even when it has no newline (not "no studies")', async () => {
    // A one-line file is a torn fragment to a reader that holds no lock; one that cannot begin
    // the journal header is no journal at all, as a writer opening it reports.
    const folder = path.join(dir, `case${n++}`);
    const file = path.join(folder, 'config.json');
    await createStudy({ studyName: 'unused', storage: path.join(folder, 'other.journal') }).then((s) => s.close());
    writeFileSync(file, '{"nTrials":20}');
    for (const args of [['studies'], ['trials', 's'], ['best', 's']]) {
      const result = await runInProcess([...args, '--storage', file], dir);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toMatch(/STORAGE_ERROR: .*config\.json is not a Kestrel journal/);
    }
    expect(readFileSync(file, 'utf8')).toBe('{"nTrials":20}');
    // The start of the header, mid-write by a new journal's first writer, is still read as empty.
    const fresh = path.join(folder, 'fresh.journal');
    writeFileSync(fresh, '{"op":"header","format":"kes');
    const studies = await runInProcess(['studies', '--storage', fresh], dir);
    expect(studies.code, studies.stderr).toBe(0);
    expect(studies.stdout).toBe('no studies\n');
  });
});
