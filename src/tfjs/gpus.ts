/**
 * GPU discovery for TensorFlow.js trials: `nvidia-smi -L` lists one line per physical device
 * ("GPU 0: NVIDIA H100 ... (UUID: GPU-...)"). No nvidia-smi, or a failing one, means no GPU.
 * `CUDA_VISIBLE_DEVICES` names the devices this process was given; it is read as CUDA reads it
 * (https://docs.nvidia.com/cuda/cuda-c-programming-guide/#env-vars): comma-separated integer
 * indices or UUIDs ("GPU-...", "MIG-..."), and an invalid entry hides itself and every entry after it.
 */
import { execFile } from 'node:child_process';
import { InvalidOptionError } from '../errors.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';

/** A GPU as `CUDA_VISIBLE_DEVICES` names it: an index, or a UUID ("GPU-...", "MIG-..."). */
export type GpuId = number | string;

/** Options of `detectGpus`. */
export interface DetectGpusOptions {
  /** The command to run (default `nvidia-smi`). */
  readonly command?: string;
  /** Give up after this many milliseconds (default 5000). */
  readonly timeoutMs?: number;
}

/** Options of `detectWorkerGpus`. */
export interface DetectWorkerGpusOptions extends DetectGpusOptions {
  /** The environment whose `CUDA_VISIBLE_DEVICES` applies (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Parses `nvidia-smi -L` output into device indices (as listed: "GPU <index>: ..."). */
export function parseNvidiaSmiList(output: string): number[] {
  const indices: number[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = /^\s*GPU\s+(\d+)\s*:/.exec(line);
    if (match !== null) indices.push(Number(match[1]));
  }
  return indices;
}

const DETECT_GPUS_KEYS = optionKeys<DetectGpusOptions>()(['command', 'timeoutMs']);

/**
 * Indices of the GPUs `nvidia-smi -L` lists, or `[]` when it is absent or fails. These are all the
 * physical GPUs, whatever `CUDA_VISIBLE_DEVICES` says (as nvidia-smi itself ignores it); see
 * `detectWorkerGpus` for the ones this process was given.
 */
export function detectGpus(options: DetectGpusOptions = {}): Promise<number[]> {
  checkOptionsObject(options, DETECT_GPUS_KEYS, 'detectGpus', true);
  const { command, timeoutMs } = checkDetectGpusOptions(options);
  return new Promise((resolve) => {
    execFile(command, ['-L'], { timeout: timeoutMs, windowsHide: true }, (error, stdout) => {
      if (error !== null) {
        resolve([]);
        return;
      }
      resolve(parseNvidiaSmiList(String(stdout)));
    });
  });
}

/** True for a valid `CUDA_VISIBLE_DEVICES` entry: an integer index >= 0 or a "GPU-"/"MIG-" UUID. */
export function isGpuId(value: unknown): value is GpuId {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0;
  return typeof value === 'string' && /^(GPU|MIG)-[^\s,]+$/.test(value);
}

/**
 * The devices a `CUDA_VISIBLE_DEVICES` value makes visible, in order, or null when it is unset:
 * entries are trimmed, indices become numbers, UUIDs stay strings, duplicates are dropped, and
 * the first invalid entry ends the list, as in CUDA (so '', '-1' or 'NoDevFiles' give `[]`).
 */
export function parseCudaVisibleDevices(value: string | undefined): GpuId[] | null {
  if (value === undefined) return null;
  const ids: GpuId[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    const id: GpuId = /^\d+$/.test(entry) ? Number(entry) : entry;
    if (!isGpuId(id)) break;
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/**
 * Whether `CUDA_VISIBLE_DEVICES` hides every GPU from this process: it is set and names no valid
 * device ('', '-1', or a first entry that is neither an index nor a UUID, such as Slurm's 'NoDevFiles').
 */
export function cudaDevicesHidden(env: NodeJS.ProcessEnv = process.env): boolean {
  const visible = parseCudaVisibleDevices(env.CUDA_VISIBLE_DEVICES);
  return visible !== null && visible.length === 0;
}

/** The longest timer Node holds (a longer one fires after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `command` and `timeoutMs` with their defaults; bad values would reach execFile, which throws its own errors. */
function checkDetectGpusOptions(options: DetectGpusOptions): { command: string; timeoutMs: number } {
  const command = options.command ?? 'nvidia-smi';
  if (typeof command !== 'string' || command === '') throw new InvalidOptionError('command', 'a non-empty string', command);
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMER_MS) {
    throw new InvalidOptionError('timeoutMs', `an integer number of milliseconds in [1, ${MAX_TIMER_MS}]`, timeoutMs);
  }
  return { command, timeoutMs };
}

const DETECT_WORKER_GPUS_KEYS = optionKeys<DetectWorkerGpusOptions>()(['command', 'timeoutMs', 'env']);

/**
 * The GPUs `gpus: 'auto'` runs one worker process on each, each worker pinned with
 * `CUDA_VISIBLE_DEVICES=<id>`: `[]` (no GPU: CPU processes) when nvidia-smi lists none or
 * `CUDA_VISIBLE_DEVICES` hides them all; the entries of `CUDA_VISIBLE_DEVICES` when it is set
 * (the GPUs this process was given, e.g. by a scheduler; used as written, so a worker's device is
 * the one the parent would see under that name); otherwise every index nvidia-smi lists.
 */
export async function detectWorkerGpus(options: DetectWorkerGpusOptions = {}): Promise<GpuId[]> {
  checkOptionsObject(options, DETECT_WORKER_GPUS_KEYS, 'detectWorkerGpus', true);
  checkDetectGpusOptions(options);
  const visible = parseCudaVisibleDevices((options.env ?? process.env).CUDA_VISIBLE_DEVICES);
  if (visible !== null && visible.length === 0) return [];
  const listed = await detectGpus({ command: options.command, timeoutMs: options.timeoutMs });
  if (listed.length === 0) return [];
  return visible ?? listed;
}
