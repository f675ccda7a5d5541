/**
 * An allocation that fails on the main thread, inside a synchronous addon call (copying a large
 * input before the work is queued), must become a coded, catchable error. node-addon-api turns
 * only Napi::Error into a JS exception; a std::bad_alloc crossing into the engine called
 * std::terminate and aborted the whole process (SIGABRT), where the same failure inside the work
 * already rejected with KESTREL_NATIVE "out of memory".
 *
 * Runs in child processes under an address-space limit (`ulimit -v`, Linux): one measures the
 * child's own size after loading the addon and running one fit (libuv's threads and their malloc
 * arenas included), the second gets that plus 1.5 times a 256 MiB input, so the input itself is
 * allocated and the addon's copy of it is not. Skipped when the addon is not built.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadAddon, packageRoot } from '../../src/binding/load.js';

const root = packageRoot();
const available = loadAddon().addon !== null;
const linux = process.platform === 'linux';

const INPUT_BYTES = 256 * 1024 * 1024;

/** argv[1] = 'measure' prints the VmSize in KiB; else the predict / acquisition calls on a large input. */
const CHILD = `
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const root = process.env.KESTREL_TEST_ROOT;
const addon = createRequire(root + '/package.json')('node-gyp-build')(root);
const data = { x: Float64Array.from([0.1, 0.5, 0.9]), y: Float64Array.from([0, 1, 0]), n: 3, d: 1, isCategorical: new Uint8Array(1) };
const model = await addon.fit(data, { kernel: 0, deterministic: false, nRestarts: 0, seed: 0, warmStart: null, numThreads: 1 });
if (process.argv[1] === 'measure') {
  console.log('vmsize ' + /VmSize:\\s*(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  process.exit(0);
}
const m = ${INPUT_BYTES / 8};
let x;
try {
  x = new Float64Array(m).fill(0.5);
} catch {
  console.log('inconclusive: the input itself could not be allocated');
  process.exit(0);
}
for (const [name, call] of [
  ['predict', () => model.predict(x, m, 1)],
  ['acquisition', () => model.acquisition(x, m, { kind: 0, incumbent: 0, beta: 0 }, false, 1)],
]) {
  try {
    await call();
    console.log(name + ' resolved');
  } catch (err) {
    console.log(name + ' ' + err.code + ' ' + err.message);
  }
}
`;

function child(mode: string, limitKiB?: number): { status: number | null; signal: string | null; output: string } {
  const script = `${limitKiB === undefined ? '' : `ulimit -v ${limitKiB} && `}exec "$0" --input-type=module -e "$KESTREL_CHILD" ${mode}`;
  const res = spawnSync('/bin/sh', ['-c', script, process.execPath], {
    cwd: root,
    env: { ...process.env, KESTREL_TEST_ROOT: root, KESTREL_CHILD: CHILD },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: res.status, signal: res.signal, output: `${res.stdout}${res.stderr}` };
}

describe('an allocation failure on the main thread of an addon call', () => {
  it.skipIf(!available || !linux)('throws KESTREL_NATIVE "out of memory" instead of aborting the process', () => {
    const measured = child('measure');
    const vmsize = /vmsize (\d+)/.exec(measured.output);
    expect(vmsize, measured.output).not.toBeNull();
    const limit = Number(vmsize?.[1]) + Math.round((1.5 * INPUT_BYTES) / 1024);
    const res = child('run', limit);
    expect(res.signal, res.output).toBeNull();
    expect(res.status, res.output).toBe(0);
    if (res.output.includes('inconclusive')) return;
    expect(res.output).toContain('predict KESTREL_NATIVE out of memory');
    expect(res.output).toContain('acquisition KESTREL_NATIVE out of memory');
  }, 120_000);
});
