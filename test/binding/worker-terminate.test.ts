/**
 * The addon inside worker_threads: terminating a Worker while native calls are in flight must
 * not take the process down. Their AsyncWorkers complete while the Worker's environment is torn
 * down, when no Promise can be settled; the addon drops that failure (native/addon/addon.cc,
 * built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS) instead of letting a C++ exception reach
 * libuv, which aborted the whole process (SIGABRT). Vitest's and Jest's thread pools terminate
 * workers exactly like this. Runs in a child process, so a crash fails the test instead of the
 * test runner. Skipped when the addon is not built.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAddon, packageRoot } from '../../src/binding/load.js';

const root = packageRoot();
const available = loadAddon().addon !== null;

/** Worker body (CommonJS, eval): queues fits and acquisition maximizations, then says so. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const load = require('node:module').createRequire(workerData.root + '/package.json')('node-gyp-build');
const addon = load(workerData.root);
let s = 7;
const r = () => (s = (s * 16807) % 2147483647) / 2147483647;
const n = 400, d = 3;
const x = Float64Array.from({ length: n * d }, r);
const y = Float64Array.from({ length: n }, (_, i) => Math.sin(6 * x[i * d]));
const data = { x, y, n, d, isCategorical: new Uint8Array(d) };
for (let i = 0; i < 4; i++) {
  addon
    .fit(data, { kernel: 0, deterministic: false, nRestarts: 2, seed: i, warmStart: null, numThreads: 2 })
    .then((m) => m.optimizeAcquisition(Float64Array.from({ length: 256 * d }, r), 256,
      { kind: 0, incumbent: 0, beta: 0, nRestarts: 4, grid: new Float64Array(d), numThreads: 2 }));
}
parentPort.postMessage('queued');
`;

/** The child: three Workers terminated with calls in flight, then a fit on the main thread. */
const CHILD = `
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
const root = process.env.KESTREL_TEST_ROOT;
const worker = ${JSON.stringify(WORKER)};
let rounds = 0;
for (let round = 0; round < 3; round++) {
  const w = new Worker(worker, { eval: true, execArgv: [], workerData: { root } });
  await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  rounds += 1;
}
const addon = createRequire(root + '/package.json')('node-gyp-build')(root);
const data = { x: Float64Array.from([0.1, 0.5, 0.9]), y: Float64Array.from([0, 1, 0]), n: 3, d: 1, isCategorical: new Uint8Array(1) };
const m = await addon.fit(data, { kernel: 1, deterministic: false, nRestarts: 0, seed: 0, warmStart: null, numThreads: 1 });
console.log('survived ' + rounds + ' ' + Number.isFinite(m.summary().logPosterior));
`;

/**
 * A child whose main thread never loads the addon: each Worker loads it, runs (and awaits) a
 * Cholesky factorization on two threads, and exits. The pool detaches its workers instead of
 * joining them (native/core/thread_pool.h), so one may wake after the call returned and still be
 * running the addon's code when the Worker exits. Node unloads (dlclose) an addon when the last
 * environment that loaded it is freed, and the waking thread then jumped into unmapped memory:
 * SIGSEGV in a few of these runs, and the library was gone from /proc/self/maps in every one. The
 * addon pins itself (loaded until the process exits).
 */
const UNLOAD_CHILD = `
import { Worker } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
const root = process.env.KESTREL_TEST_ROOT;
const worker = \`
const { parentPort, workerData } = require('node:worker_threads');
const addon = require('node:module').createRequire(workerData.root + '/package.json')('node-gyp-build')(workerData.root);
const n = 400;
addon.cholesky(new Float64Array(n * n).fill(-1), n, 2, false).then((r) => parentPort.postMessage(r.index));
\`;
for (let round = 0; round < 20; round++) {
  const w = new Worker(worker, { eval: true, execArgv: [], workerData: { root } });
  await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
}
const maps = process.platform === 'linux' ? readFileSync('/proc/self/maps', 'utf8') : null;
console.log('mapped ' + (maps === null ? 'unknown' : maps.includes('kestrel.node')));
`;

describe('the addon in worker_threads', () => {
  it('both build descriptions define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS for the addon', () => {
    const cmake = readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8');
    const addonDefines = /target_compile_definitions\(kestrel PRIVATE([^)]*)\)/.exec(cmake);
    expect(addonDefines?.[1]).toContain('NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS');
    const gyp = readFileSync(path.join(root, 'binding.gyp'), 'utf8');
    const gypDefines = /"target_name": "kestrel",[\s\S]*?"defines": \[([^\]]*)\]/.exec(gyp);
    expect(gypDefines?.[1]).toContain('"NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"');
  });

  /** Runs `script` in a child Node process; it must exit 0, not by a signal. Returns its stdout. */
  function runChild(script: string): string {
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, KESTREL_TEST_ROOT: root },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${res.stdout}${res.stderr}`;
    expect(res.signal, output).toBeNull();
    expect(res.status, output).toBe(0);
    return res.stdout;
  }

  it.skipIf(!available)('a Worker terminated with native calls in flight leaves the process running (exit code 0)', () => {
    expect(runChild(CHILD)).toContain('survived 3 true');
  }, 150_000);

  it.skipIf(!available)('stays loaded after the last Worker that used it exits (its pool threads may still run its code): no SIGSEGV', () => {
    expect(runChild(UNLOAD_CHILD)).toMatch(process.platform === 'linux' ? /mapped true/ : /mapped unknown/);
  }, 150_000);
});
