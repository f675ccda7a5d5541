/**
 * Engine throughput: ask + suggest (3 parameters: float, log-float, categorical) + tell with the
 * random sampler, in memory and with the journal file backend, over studies of 1k and 10k trials.
 *
 *     npm run bench:engine [-- --sizes 1000,10000 --repeats 5 --storages memory,journal --no-peer --journal-dir /dev/shm]
 *     (--help lists the flags)
 *
 * Method: warm-up studies (3 x 2k trials in memory, 500 in a journal) are discarded; each (storage, size) then runs
 * `repeats` fresh studies and reports the median and the min of trials/s (min = the slowest
 * repeat). Each study is timed from its first ask to its last tell. The journal lives in the OS temp
 * directory or `--journal-dir` (recorded with its filesystem and an fdatasync latency probe taken
 * before and after the runs: the journal syncs once per finished trial, so on a shared disk its rate
 * follows the disk; `--journal-dir /dev/shm` measures the software alone).
 *
 * Baselines: the issue's Optuna 3.1 figures (1,900 trials/s at 1k, 600 trials/s at 10k, in memory,
 * "a machine like ours"); and, when python3-optuna is installed, the peer script
 * /work/shared/peers/optuna_engine_tp.py measured in the same run (same 1k/10k protocol, one repeat
 * each; it suggests two uniform floats and a categorical). Targets: memory >= 10x Optuna in memory,
 * journal >= 1x Optuna in memory, at both sizes.
 *
 * Output: JSON lines on stdout (one `machine`, one per measurement, one `peer`, one `summary`), then
 * a markdown table.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RandomSampler } from '../src/samplers/random-sampler.js';
import { createStudy } from '../src/study/create-study.js';
import { choiceList, flag, int, intList, parseBenchArgs, str } from './lib/args.js';

type StorageKind = 'memory' | 'journal';

interface Args {
  sizes: number[];
  repeats: number;
  storages: StorageKind[];
  peer: boolean;
  /** Parent directory of the journal files (default: the OS temp dir). */
  journalDir: string;
}

interface Measurement {
  storage: StorageKind;
  nTrials: number;
  repeats: number;
  trialsPerS: number[];
  median: number;
  min: number;
}

/** The issue's Optuna 3.1 in-memory figures (trials/s). */
const ISSUE_OPTUNA: Readonly<Record<number, number>> = { 1000: 1900, 10000: 600 };
const PEER_SCRIPT = '/work/shared/peers/optuna_engine_tp.py';

const COMMAND = {
  script: 'bench/engine.ts',
  summary: 'ask + suggest + tell throughput with RandomSampler, in memory and with the journal file backend, vs Optuna 3.1 (bench/README.md).',
  flags: {
    sizes: intList({ description: 'trials per study', min: 1, default: [1000, 10000] }),
    repeats: int({ description: 'fresh studies per (storage, size)', min: 1, default: 5 }),
    storages: choiceList({ description: 'storage backends', choices: ['memory', 'journal'] as const, default: ['memory', 'journal'] }),
    'no-peer': flag("skip the Optuna peer script (/work/shared/peers/optuna_engine_tp.py)"),
    'journal-dir': str({ description: 'parent directory of the journal files', valueName: 'DIR', defaultText: 'the OS temp directory' }),
  },
};

function parseArgs(argv: readonly string[]): Args {
  const parsed = parseBenchArgs(COMMAND, argv);
  return { sizes: parsed.sizes, repeats: parsed.repeats, storages: parsed.storages, peer: !parsed.noPeer, journalDir: parsed.journalDir ?? os.tmpdir() };
}

/** One study of n trials; returns trials per second. */
async function runOnce(storage: StorageKind, nTrials: number, dir: string, seed: number): Promise<number> {
  const journal = path.join(dir, `engine-${storage}-${nTrials}-${seed}.journal`);
  const study = await createStudy({
    studyName: `engine-${nTrials}-${seed}`,
    direction: 'minimize',
    sampler: new RandomSampler({ seed }),
    storage: storage === 'memory' ? ':memory:' : journal,
  });
  const start = process.hrtime.bigint();
  for (let i = 0; i < nTrials; i++) {
    const trial = await study.ask();
    const x = trial.suggestFloat('x', -5, 5);
    const lr = trial.suggestFloat('lr', 1e-5, 1, { log: true });
    const c = trial.suggestCategorical('c', ['a', 'b', 'c']);
    await study.tell(trial, x * x + Math.log10(lr) ** 2 + (c === 'a' ? 0 : 1));
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await study.close();
  if (storage === 'journal') rmSync(journal, { force: true });
  return nTrials / seconds;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function machineInfo(dir: string): Record<string, unknown> {
  let filesystem = 'unknown';
  try {
    const out = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n')[1];
    filesystem = out.split(/\s+/)[1] ?? 'unknown';
  } catch {
    try {
      filesystem = `statfs type 0x${statfsSync(dir).type.toString(16)}`;
    } catch {
      // keep 'unknown'
    }
  }
  return {
    kind: 'machine',
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    journalDir: dir,
    journalFilesystem: filesystem,
  };
}

/** Runs the Optuna peer script when a python3 with optuna exists; null otherwise. */
function runPeer(): { version: string; trialsPerS: Record<string, number>; python: string } | { error: string } {
  const candidates = [process.env.PEERS_PY, '/usr/bin/python3', 'python3'].filter((p): p is string => p !== undefined);
  const python = candidates.find((exe) => spawnSync(exe, ['-c', 'import optuna'], { stdio: 'ignore' }).status === 0);
  if (python === undefined) return { error: 'no python3 with optuna (apt-get install -y python3-optuna)' };
  const result = spawnSync('python3', [PEER_SCRIPT], {
    encoding: 'utf8',
    env: { ...process.env, PEERS_PY: python },
    timeout: 300_000,
  });
  if (result.status !== 0) return { error: `peer script failed: ${result.stderr.trim().split('\n').pop() ?? ''}` };
  const line = result.stdout.trim().split('\n').pop() ?? '';
  const parsed = JSON.parse(line) as { optuna: string; trials_per_s: Record<string, number> };
  return { version: parsed.optuna, trialsPerS: parsed.trials_per_s, python };
}

/**
 * Median milliseconds of one 100-byte append + fdatasync in `dir`: the floor of a durable journal
 * write on this disk, which varies a lot on shared machines. Measured before and after the runs.
 */
function fsyncProbe(dir: string, n = 200): number {
  const file = path.join(dir, 'fsync-probe');
  const fd = openSync(file, 'a');
  const times: number[] = [];
  const line = `${'x'.repeat(99)}\n`;
  try {
    for (let i = 0; i < n; i++) {
      const t = process.hrtime.bigint();
      writeSync(fd, line);
      fdatasyncSync(fd);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  return median(times);
}

const fmt = (v: number): string => Math.round(v).toLocaleString('en-US');
const ratio = (v: number): string => `${v.toFixed(1)}x`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(args.journalDir, 'kestrel-bench-'));
  const emit = (obj: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);
  try {
    emit(machineInfo(dir));
    emit({ kind: 'fsyncProbe', when: 'before', medianMs: fsyncProbe(dir) });
    // Warm-up (JIT), discarded: without it the first 1k-trial repeats run at a third of the speed.
    for (let w = 0; w < 3; w++) await runOnce('memory', 2000, dir, 900 + w);
    await runOnce('journal', 500, dir, 999);

    const results: Measurement[] = [];
    for (const storage of args.storages) {
      for (const nTrials of args.sizes) {
        const rates: number[] = [];
        for (let r = 0; r < args.repeats; r++) rates.push(await runOnce(storage, nTrials, dir, r));
        const m: Measurement = { storage, nTrials, repeats: args.repeats, trialsPerS: rates, median: median(rates), min: Math.min(...rates) };
        results.push(m);
        emit({ kind: 'measurement', sampler: 'random', params: 3, ...m });
      }
    }

    emit({ kind: 'fsyncProbe', when: 'after', medianMs: fsyncProbe(dir) });
    const peer = args.peer ? runPeer() : { error: 'skipped (--no-peer)' };
    emit({ kind: 'peer', script: PEER_SCRIPT, ...peer });
    const peerRate = (n: number): number | null => ('trialsPerS' in peer ? (peer.trialsPerS[String(n)] ?? null) : null);

    const rows: string[] = [];
    const summary: Record<string, unknown>[] = [];
    for (const m of results) {
      const issue = ISSUE_OPTUNA[m.nTrials];
      const measured = peerRate(m.nTrials);
      const target = m.storage === 'memory' ? 10 : 1;
      const vsIssue = issue === undefined ? null : m.median / issue;
      const vsPeer = measured === null ? null : m.median / measured;
      summary.push({ storage: m.storage, nTrials: m.nTrials, median: m.median, vsIssueOptuna: vsIssue, vsMeasuredOptuna: vsPeer, target, meetsTargetVsIssue: vsIssue === null ? null : vsIssue >= target, meetsTargetVsMeasured: vsPeer === null ? null : vsPeer >= target });
      rows.push(
        `| ${m.storage} | ${m.nTrials} | ${fmt(m.median)} | ${fmt(m.min)} | ${vsIssue === null ? '-' : ratio(vsIssue)} | ` +
          `${vsPeer === null ? '-' : `${ratio(vsPeer)} (Optuna ${fmt(measured!)})`} | >= ${target}x |`,
      );
    }
    emit({ kind: 'summary', rows: summary });

    process.stdout.write(
      '\n| storage | trials | median trials/s | min trials/s | vs Optuna (issue) | vs Optuna (measured here) | target |\n' +
        '|---|---|---|---|---|---|---|\n' +
        `${rows.join('\n')}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
