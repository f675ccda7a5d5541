/**
 * GPU discovery for TensorFlow.js trials: `nvidia-smi -L` lists one line per visible device
 * ("GPU 0: NVIDIA H100 ... (UUID: GPU-...)"). No nvidia-smi, or a failing one, means no GPU.
 */
import { execFile } from 'node:child_process';

export interface DetectGpusOptions {
  /** The command to run (default `nvidia-smi`). */
  readonly command?: string;
  /** Give up after this many milliseconds (default 5000). */
  readonly timeoutMs?: number;
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

/**
 * Indices of the GPUs `nvidia-smi -L` lists, or `[]` when it is absent or fails. Honors neither
 * `CUDA_VISIBLE_DEVICES` nor MIG: these are the physical indices to pin worker processes to.
 */
export function detectGpus(options: DetectGpusOptions = {}): Promise<number[]> {
  const command = options.command ?? 'nvidia-smi';
  const timeoutMs = options.timeoutMs ?? 5000;
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

/** Whether `CUDA_VISIBLE_DEVICES` hides every GPU from this process (set to '' or '-1'). */
export function cudaDevicesHidden(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CUDA_VISIBLE_DEVICES;
  if (value === undefined) return false;
  const trimmed = value.trim();
  return trimmed === '' || trimmed === '-1';
}
