/**
 * Helpers of the CLI tests: an in-process `kestrel` with captured output, spawned `kestrel`
 * processes (from the TypeScript sources through tsx), and temp directories with configs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { main } from '../../src/cli/main.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const cliSource = path.join(repoRoot, 'src/cli/main.ts');
/** tsx's loader by URL, so that `--import` works from any working directory. */
export const tsxLoader = pathToFileURL(createRequire(path.join(repoRoot, 'package.json')).resolve('tsx')).href;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

class Buffer {
  text = '';
  readonly isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/** Runs the CLI in this process (`args` without the `node kestrel` prefix). */
export async function runInProcess(args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  const stdout = new Buffer();
  const stderr = new Buffer();
  const code = await main(['node', 'kestrel', ...args], { stdout, stderr, cwd, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Starts `node --import tsx src/cli/main.ts ...args` in `cwd`. */
export function spawnCli(args: readonly string[], cwd: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', tsxLoader, cliSource, ...args], {
    cwd,
    env: { ...process.env, ...env, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a child's output and exit code (128 + n for a signal). */
export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const signals: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
      resolve({ code: code ?? 128 + (signal === null ? 0 : (signals[signal] ?? 0)), stdout, stderr });
    });
  });
}

export async function runSpawned(args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  return collect(spawnCli(args, cwd, env));
}

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `kestrel-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeFiles(dir: string, files: Readonly<Record<string, string>>): Promise<void> {
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
}

/** Parses the plain progress lines (`trial 3 COMPLETE value=0.5 best=...`). */
export function parseTrialLines(stderr: string): { number: number; state: string; value: number | null }[] {
  const out: { number: number; state: string; value: number | null }[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^trial (\d+) (COMPLETE|PRUNED|FAIL)(?: .*?value=([^ ]+))?/.exec(line);
    if (m !== null) out.push({ number: Number(m[1]), state: m[2], value: m[3] === undefined ? null : Number(m[3]) });
  }
  return out;
}
