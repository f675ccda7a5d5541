/**
 * Each native model reports its memory (factor store, inputs, solves) to the JS engine
 * (napi_adjust_external_memory), so that dropped, undisposed models are collected before their
 * factors pile up (without it, 250 undisposed n = 2500 models reached 10 GiB of RSS before a GC
 * ran). A store shared by appended models is reported once (chains of appends:
 * test/surrogate/native-external-memory.test.ts). Each handle lets go exactly once: by dispose()
 * or by the finalizer, never both.
 * Checked through addon.externalMemory() (the bytes this environment's live models report), in
 * a child process with --expose-gc so that no other test's models are collected meanwhile.
 * Skipped when the addon is not built.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadAddon, packageRoot } from '../../src/binding/load.js';

const root = packageRoot();
const available = loadAddon().addon !== null;

const CHILD = `
import { createRequire } from 'node:module';
const root = process.env.KESTREL_TEST_ROOT;
const addon = createRequire(root + '/package.json')('node-gyp-build')(root);
let s = 11;
const r = () => (s = (s * 16807) % 2147483647) / 2147483647;
const n = 300, d = 3;
const data = { x: Float64Array.from({ length: n * d }, r), y: Float64Array.from({ length: n }, r), n, d, isCategorical: new Uint8Array(d) };
const options = { theta: Float64Array.from([0, 0, 0, 0, -3]), kernel: 0, deterministic: false, numThreads: 1 };
const settle = async () => {
  for (let i = 0; i < 100 && addon.externalMemory() > 0; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
const out = { base: addon.externalMemory() };
const m = await addon.build(data, options);
out.one = addon.externalMemory();
const appended = await m.append(Float64Array.from([0.5, 0.5, 0.5]), Float64Array.from([0.1]), 1, 1);
out.two = addon.externalMemory();
m.dispose();
out.afterFirstDispose = addon.externalMemory();
m.dispose();
out.afterDispose = addon.externalMemory();
appended.dispose();
out.disposedAll = addon.externalMemory();
let dropped = [];
for (let i = 0; i < 8; i++) dropped.push(await addon.build(data, options));
out.live = addon.externalMemory();
dropped = null;
await settle();
out.collected = addon.externalMemory();
let both = await addon.build(data, options);
both.dispose();
both = null;
for (let i = 0; i < 20; i++) {
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 5));
}
out.disposedThenCollected = addon.externalMemory();
console.log(JSON.stringify(out));
`;

describe('native model memory reported to the JS engine', () => {
  it.skipIf(!available)('is added on wrap and taken back once by dispose() or the finalizer (exactly balanced)', () => {
    const res = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD], {
      cwd: root,
      env: { ...process.env, KESTREL_TEST_ROOT: root },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${res.stdout}${res.stderr}`;
    expect(res.status, output).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').pop() as string) as Record<string, number>;
    expect(out.base).toBe(0);
    // At least the n^2 factor; the appended model reports its own share (inputs and solves: it
    // shares the factor's store, reported once; test/surrogate/native-external-memory.test.ts).
    expect(out.one).toBeGreaterThanOrEqual(300 * 300 * 8);
    expect(out.two).toBeGreaterThan(out.one);
    expect(out.two - out.one).toBeLessThan(300 * 300 * 8);
    // Disposing the first model takes back its own share; the store stays while the appended
    // model uses it. Disposing twice subtracts once.
    expect(out.afterFirstDispose).toBeLessThan(out.two);
    expect(out.afterFirstDispose).toBeGreaterThanOrEqual(300 * 300 * 8);
    expect(out.afterDispose).toBe(out.afterFirstDispose);
    expect(out.disposedAll).toBe(0);
    expect(out.live).toBe(8 * out.one);
    expect(out.collected).toBe(0); // the finalizers took back what dropped models reported
    expect(out.disposedThenCollected).toBe(0); // a disposed model's finalizer subtracts nothing
  }, 150_000);
});
