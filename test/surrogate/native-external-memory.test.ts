/**
 * External memory that native models appended one after another report to the JS engine.
 *
 * GpModel::append extends its factor in place in the store it shares with the model it came
 * from (native/core/gp.h FactorStore) while the store has spare rows, so a chain of appended
 * models holds one n^2 store, not one per model. Each block must be reported once: counting the
 * shared store whole for every model made a chain of k models report about k stores, and the
 * engine ran GCs for memory that did not exist. Checked through the TypeScript backend
 * (src/surrogate/native-backend.ts) in a child process with --expose-gc
 * (fixtures/append-chain-memory.ts), so that no other test's models are collected meanwhile.
 * The same goes for a toCuda handle's device copy (CUDA build and device only). Skipped when the
 * addon is not built.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadAddon, packageRoot } from '../../src/binding/load.js';

const root = packageRoot();
const { addon } = loadAddon();
const available = addon !== null;
const cudaReady = addon !== null && addon.buildInfo().cuda && addon.cudaAvailable();
const tsxLoader = pathToFileURL(createRequire(path.join(root, 'package.json')).resolve('tsx')).href;
const fixture = path.join(root, 'test', 'surrogate', 'fixtures', 'append-chain-memory.ts');

/** Runs the fixture; its last stdout line, parsed. */
function runFixture(args: readonly string[]): Record<string, number> {
  const res = spawnSync(process.execPath, ['--expose-gc', '--import', tsxLoader, fixture, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const output = `${res.stdout}${res.stderr}`;
  expect(res.status, output).toBe(0);
  return JSON.parse(res.stdout.trim().split('\n').pop() as string) as Record<string, number>;
}

describe('native backend: external memory of appended models', () => {
  it.skipIf(!available)('reports a shared factor store once, and takes everything back on dispose() and collection', () => {
    const out = runFixture([]);
    expect(out.base).toBe(0);
    // n = 400, d = 2: a store of factor_capacity(400) = 432 rows, 1.49 MB, and ~19 KB of inputs
    // and solves. The appended model shares the store: it adds its own inputs and solves only
    // (counting the store again doubled the reading).
    expect(out.one).toBeGreaterThanOrEqual(432 * 432 * 8);
    const ownShare = out.pair - out.one;
    expect(ownShare).toBeGreaterThan(0);
    expect(ownShare).toBeLessThan(out.one / 20);
    expect(out.pairDisposed).toBe(0);
    // 60 appends of 2 rows (n 400 -> 520) fill 4 stores (432, 472, 512, 552 rows; 32 spare rows
    // each): about 6 times `one` with every model's own share. Every model counting its store
    // whole reported about 74 times `one`.
    expect(out.nChain).toBe(520);
    expect(out.chain).toBeLessThan(8 * out.one);
    expect(out.chain).toBeGreaterThan(4 * 432 * 432 * 8);
    // The newest model alone: its store and its own share, no more than a fresh build over the
    // same rows reports (its store was sized at 514 rows, a fresh build's at 520).
    expect(out.newestOnly).toBeGreaterThanOrEqual(520 * 520 * 8);
    expect(out.newestOnly).toBeLessThanOrEqual(out.freshDelta);
    expect(out.chainDisposed).toBe(0); // and a second dispose() took nothing back
    // The same chain dropped: live it reads the same, and the finalizers take it all back.
    expect(out.droppedLive).toBe(out.chain);
    expect(out.collected).toBe(0);
    // Disposing every other model takes back only their own shares (30 models of 401..520 rows:
    // under 1.5 times the share of one at 401 rows each); the stores are still in use.
    expect(out.mixedHalf).toBeLessThan(out.chain);
    expect(out.chain - out.mixedHalf).toBeLessThan(30 * 1.5 * ownShare);
    expect(out.mixedCollected).toBe(0);
  }, 150_000);

  // A toCuda handle shares its CPU model (reported once) and reports its own device copy
  // (native/cuda/cuda_gp.h CudaGp::memory_bytes: the device's L, X^T, alpha, w and flags, plus a
  // little host state), so that a dropped, undisposed device handle weighs on the GC as much as
  // the device memory it keeps (n = 10,000: 800 MB). Needs a GPU: the emulated device
  // (test/native/cuda-emulated.test.ts) checks device_bytes() against the allocations it holds.
  it.skipIf(!cudaReady)('a toCuda handle reports its device copy once, and shares its CPU model, taken back by the last handle', () => {
    const out = runFixture(['--cuda']);
    expect(out.base).toBe(0);
    expect(out.cpu).toBeGreaterThanOrEqual(432 * 432 * 8);
    // n = 400, d = 2: (400^2 + 400 x 2 + 400 + 2) x 8 + 2 bytes on the device; the host side of a
    // copy is a few hundred bytes (the CudaGp, its state and its w).
    expect(out.deviceBytes).toBe((400 * 400 + 400 * 2 + 400 + 2) * 8 + 2);
    const share = out.both - out.cpu;
    expect(share).toBeGreaterThanOrEqual(out.deviceBytes);
    expect(share - out.deviceBytes).toBeLessThan(4096);
    // The CPU handle disposed: the device handle still holds the CPU model, its store and its copy.
    expect(out.deviceOnly).toBe(out.both);
    // A second copy of the same fit adds its own device memory only; disposing it takes that back.
    expect(out.twoCopies - out.deviceOnly).toBe(share);
    expect(out.secondDisposed).toBe(out.deviceOnly);
    // An append on a device handle: the appended CPU model's own share (its store is the parent's)
    // and a new device copy of 401 rows.
    const appendedShare = out.appended - out.deviceOnly;
    expect(appendedShare).toBeGreaterThanOrEqual(out.deviceBytesAppended);
    expect(appendedShare).toBeLessThan(out.deviceBytesAppended + out.cpu / 20);
    expect(out.disposed).toBe(0);
    // Three dropped device handles over one CPU model: the model once, three copies; the
    // finalizers take it all back.
    expect(out.droppedLive).toBe(out.cpu + 3 * share);
    expect(out.collected).toBe(0);
    expect(out.backend).toBe(out.both);
    expect(out.backendDisposed).toBe(0);
  }, 150_000);
});
