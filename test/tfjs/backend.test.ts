import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError, InvalidOptionError } from '../../src/errors.js';
import { currentTfBackend, resetTfBackendSelection, selectTfBackend } from '../../src/tfjs/backend.js';
import { resetWarnOnce } from '../../src/util/warn.js';

function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}'`), { code: 'ERR_MODULE_NOT_FOUND' });
}

/** Pretends tfjs-node(-gpu) is installed: registers a 'tensorflow' backend (a CPU one) and returns tfjs. */
async function fakeNode(specifier: string): Promise<unknown> {
  if (specifier === '@tensorflow/tfjs-backend-wasm') return import('@tensorflow/tfjs-backend-wasm');
  if (tf.findBackendFactory('tensorflow') === null) tf.registerBackend('tensorflow', tf.findBackendFactory('cpu')!, 0);
  return { default: tf };
}

function collectWarnings(): { messages: string[]; stop: () => void } {
  const messages: string[] = [];
  const listener = (w: Error & { code?: string }): void => {
    if (w.code === 'TFJS_BACKEND') messages.push(w.message);
  };
  process.on('warning', listener);
  return { messages, stop: () => process.off('warning', listener) };
}

afterEach(() => {
  resetTfBackendSelection();
  resetWarnOnce();
});

describe('selectTfBackend', () => {
  it('falls back to WASM (loaded from the package, nothing fetched) when tfjs-node is absent', async () => {
    const warnings = collectWarnings();
    const selection = await selectTfBackend({
      importModule: async (s) => (s.startsWith('@tensorflow/tfjs-node') ? Promise.reject(notFound(s)) : import(s)),
      detectGpus: async () => [],
    });
    await new Promise((r) => setImmediate(r));
    warnings.stop();
    expect(selection.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(selection.skipped).toEqual(['tfjs-node-gpu: no visible GPU', 'tfjs-node: not installed']);
    expect(warnings.messages).toHaveLength(1);
    expect(warnings.messages[0]).toMatch(/^TensorFlow.js backend: wasm/);
    // The WASM backend computes.
    expect(Array.from(tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]))).dataSync())).toEqual([4, 6]);
    // The selection is kept for the process.
    expect(currentTfBackend()).toBe(selection);
    expect(await selectTfBackend()).toBe(selection);
  });

  it('uses tfjs-node-gpu only when a GPU is visible, else tfjs-node', async () => {
    const gpu = await selectTfBackend({ importModule: fakeNode, detectGpus: async () => [0] });
    expect(gpu.name).toBe('tfjs-node-gpu');
    expect(gpu.tfBackend).toBe('tensorflow');
    resetTfBackendSelection();
    const node = await selectTfBackend({ importModule: fakeNode, detectGpus: async () => [] });
    expect(node.name).toBe('tfjs-node');
    expect(node.skipped).toEqual(['tfjs-node-gpu: no visible GPU']);
  });

  it('honors prefer and strict', async () => {
    const cpu = await selectTfBackend({ prefer: 'cpu', force: true });
    expect(cpu.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    await expect(
      selectTfBackend({ prefer: 'node', strict: true, force: true, importModule: async (s) => Promise.reject(notFound(s)) }),
    ).rejects.toBeInstanceOf(BackendUnavailableError);
    const broken = await selectTfBackend({
      prefer: 'node',
      force: true,
      importModule: async (s) => (s === '@tensorflow/tfjs-node' ? Promise.reject(new Error('libtensorflow.so: cannot open')) : import(s)),
    });
    expect(broken.skipped[0]).toMatch(/^tfjs-node: failed to load \(libtensorflow/);
    await expect(selectTfBackend({ prefer: 'tpu' as never })).rejects.toThrow(InvalidOptionError);
  });
});

describe('selectTfBackend after an earlier selection', () => {
  /** The error, or the name of the backend it resolved with (a failed match never prints the tf module). */
  const outcome = (selection: Promise<{ name: string }>): Promise<unknown> => selection.then((s) => `resolved ${s.name}`, (e: unknown) => e);

  it('a strict request the kept selection does not meet throws BackendUnavailableError, never returning the other backend', async () => {
    // The first call fell back to 'cpu'; a later strict 'gpu' request got that 'cpu' selection back.
    const first = await selectTfBackend({ importModule: async (s) => Promise.reject(notFound(s)), detectGpus: async () => [], prefer: 'node' });
    expect(first.name).toBe('cpu');
    for (const prefer of ['gpu', 'node', 'wasm'] as const) {
      const error = await outcome(selectTfBackend({ prefer, strict: true, importModule: fakeNode, detectGpus: async () => [0] }));
      expect(error, prefer).toBeInstanceOf(BackendUnavailableError);
      expect((error as Error).message).toMatch(/already selected "cpu" .*force: true/);
    }
    // The selection is unchanged, and a request it meets (strict or not) still returns it.
    expect(currentTfBackend() === first).toBe(true);
    expect(tf.getBackend()).toBe('cpu');
    expect((await selectTfBackend({ prefer: 'cpu', strict: true })) === first).toBe(true);
    expect((await selectTfBackend({ prefer: 'gpu' })) === first).toBe(true);
    // force: true selects again, strictly.
    const gpu = await selectTfBackend({ prefer: 'gpu', strict: true, force: true, importModule: fakeNode, detectGpus: async () => [0] });
    expect(gpu.name).toBe('tfjs-node-gpu');
    expect((await selectTfBackend({ prefer: 'gpu', strict: true })) === gpu).toBe(true);
  });

  it('a strict request is not met by a selection whose backend was switched away meanwhile (tf.setBackend)', async () => {
    const first = await selectTfBackend({ prefer: 'wasm', strict: true });
    expect(first.name).toBe('wasm');
    await tf.setBackend('cpu');
    const error = await outcome(selectTfBackend({ prefer: 'wasm', strict: true }));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toMatch(/"cpu" is active/);
  });
});

describe('selectTfBackend option values', () => {
  it('refuses a strict or force that is not a boolean, and hooks that are not functions', async () => {
    // strict: 'true' was not === true: the selection silently fell back instead of being strict.
    const cases: [Record<string, unknown>, string][] = [
      [{ strict: 'true' }, 'strict'],
      [{ strict: 1 }, 'strict'],
      [{ force: 'yes' }, 'force'],
      [{ importModule: 'x' }, 'importModule'],
      [{ detectGpus: [0] }, 'detectGpus'],
    ];
    for (const [options, key] of cases) {
      const error = await selectTfBackend({ prefer: 'node', ...options } as never).then(() => null, (e: unknown) => e);
      expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(key);
    }
    expect(currentTfBackend()).toBeNull();
  });
});
