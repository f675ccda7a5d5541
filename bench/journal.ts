/**
 * Journal append and replay cost, without the disk: appends of createTrial and updateTrial
 * records (a parameter, its distribution, an intermediate value), which are not fdatasynced, so
 * the figure is the software's (lock, catch-up, JSON, checksum, write); and the replay of a journal
 * of `--records` such records on open. Beside each, the cost of `zlib.crc32` alone over the same bytes (the
 * per-record checksum's share), measured in the same run.
 *
 *     npx tsx bench/journal.ts [--records 20000] [--repeats 7] [--journal-dir /dev/shm]
 *
 * Method: one warm-up pass (discarded), then `repeats` fresh journals; median and slowest repeat
 * of the process CPU time (user + system, `process.cpuUsage`: steadier than wall time on a shared
 * machine, and the system calls of an append are its cost) per appended record, and of MB/s
 * replayed per CPU second; wall time is recorded beside it. JSON lines out (`machine`, one per
 * measurement), then a markdown table. To compare two versions, run this file against each tree
 * (it uses only `JournalStorage`'s public API).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { JournalStorage } from '../src/storage/journal-storage.js';
import { int, parseBenchArgs, str } from './lib/args.js';
import { medianAndMin } from './lib/stats.js';

const COMMAND = {
  script: 'bench/journal.ts',
  summary: 'JournalStorage append (no fdatasync) and replay cost, with the crc32 share measured beside them (bench/README.md).',
  flags: {
    records: int({ description: 'records per journal', min: 1, default: 20000 }),
    repeats: int({ description: 'fresh journals', min: 1, default: 7 }),
    'journal-dir': str({ description: 'parent directory of the journal files', valueName: 'DIR', defaultText: 'the OS temp directory' }),
  },
};

const X = { kind: 'float', low: 0, high: 1, log: false, step: null } as const;

/**
 * Appends `n` records to a fresh journal, alternating createTrial (RUNNING, not synced) and
 * updateTrial (a parameter, its distribution, an intermediate value); microseconds per record.
 */
async function appendRun(file: string, n: number): Promise<{ cpu: number; wall: number }> {
  const s = new JournalStorage({ path: file });
  const id = await s.createStudy('bench', ['minimize']);
  let trialId = -1;
  const start = process.hrtime.bigint();
  const startCpu = cpuMicros();
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) trialId = (await s.createTrial(id)).trialId;
    else await s.updateTrial(trialId, { params: { x: i / n }, distributions: { x: X }, intermediateValues: { 0: Math.sin(i) } });
  }
  const cpu = (cpuMicros() - startCpu) / n;
  const wall = Number(process.hrtime.bigint() - start) / 1e3 / n;
  await s.close();
  return { cpu, wall };
}

/** CPU time of this process so far (user + system), microseconds. */
function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** Opens (replays) the journal; MB per CPU second. */
function replayRun(file: string, bytes: number): number {
  const start = cpuMicros();
  const s = new JournalStorage({ path: file, readOnly: true });
  const seconds = (cpuMicros() - start) / 1e6;
  void s.close();
  return bytes / 1e6 / seconds;
}

/** zlib.crc32 over every line of `data`, as replay checks them; MB per CPU second. */
function crcRun(lines: readonly Buffer[], bytes: number): number {
  let sink = 0;
  const start = cpuMicros();
  for (const line of lines) sink ^= crc32(line);
  const seconds = (cpuMicros() - start) / 1e6;
  if (sink === 0.5) process.stdout.write(''); // keep the loop
  return bytes / 1e6 / seconds;
}

function splitLines(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, start)) {
    out.push(data.subarray(start, nl));
    start = nl + 1;
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseBenchArgs(COMMAND);
  const dir = mkdtempSync(path.join(args.journalDir ?? os.tmpdir(), 'kestrel-journal-bench-'));
  const emit = (obj: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);
  try {
    emit({ kind: 'machine', cpuModel: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), node: process.version, platform: `${os.platform()} ${os.release()}`, journalDir: dir });
    const warm = path.join(dir, 'warm.journal');
    await appendRun(warm, Math.min(args.records, 5000));
    replayRun(warm, 1);
    rmSync(warm);

    const append: number[] = [];
    const appendWall: number[] = [];
    const replay: number[] = [];
    const crc: number[] = [];
    const recordBytes: number[] = [];
    for (let r = 0; r < args.repeats; r++) {
      const file = path.join(dir, `j${r}.journal`);
      const run = await appendRun(file, args.records);
      append.push(run.cpu);
      appendWall.push(run.wall);
      const data = readFileSync(file);
      recordBytes.push(data.length / (args.records + 3));
      replay.push(replayRun(file, data.length));
      crc.push(crcRun(splitLines(data), data.length));
      rmSync(file);
    }
    const a = medianAndMin(append);
    const rp = medianAndMin(replay);
    const c = medianAndMin(crc);
    const bytesPerRecord = medianAndMin(recordBytes).median;
    // The checksum's share of one append: one record's bytes at the measured crc32 rate.
    const crcUsPerRecord = bytesPerRecord / c.median;
    const slowestAppend = Math.max(...append);
    emit({ kind: 'measurement', what: 'append', records: args.records, repeats: args.repeats, cpuUsPerRecord: append, median: a.median, slowest: slowestAppend, wallUsPerRecord: appendWall, bytesPerRecord });
    emit({ kind: 'measurement', what: 'replay', records: args.records, repeats: args.repeats, mbPerCpuS: replay, median: rp.median, slowest: rp.min });
    emit({ kind: 'measurement', what: 'crc32', repeats: args.repeats, mbPerCpuS: crc, median: c.median, slowest: c.min, usPerRecord: crcUsPerRecord, shareOfAppend: crcUsPerRecord / a.median });
    process.stdout.write(
      '\n| measure | median | slowest repeat |\n|---|---|---|\n' +
        `| append, CPU us/record (${Math.round(bytesPerRecord)} B, no fdatasync) | ${a.median.toFixed(2)} | ${slowestAppend.toFixed(2)} |\n` +
        `| replay on open, MB per CPU s | ${rp.median.toFixed(0)} | ${rp.min.toFixed(0)} |\n` +
        `| zlib.crc32 alone, MB per CPU s (us per record; share of an append) | ${c.median.toFixed(0)} (${crcUsPerRecord.toFixed(3)}; ${((100 * crcUsPerRecord) / a.median).toFixed(2)}%) | ${c.min.toFixed(0)} |\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
