/**
 * Runs the C++ tests of native/tests (Cholesky, TRSM, inverse, append, jitter/NaN reporting,
 * finite-difference gradients of the likelihood and acquisitions) so that `npm test` runs them.
 * Uses the binary the install build leaves at build/kestrel_native_tests (or the one from
 * `node scripts/run-native-tests.mjs`); skipped with a message when neither exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/binding/load.js';

const root = packageRoot();
const candidates = [path.join(root, 'build', 'kestrel_native_tests'), path.join(root, 'build', 'native-tests', 'kestrel_native_tests')];
const binary = candidates.find((p) => existsSync(p));

describe('native C++ tests', () => {
  if (binary === undefined) {
    it.skip('C++ tests not built (run `node scripts/build-native.mjs` or `node scripts/run-native-tests.mjs`)', () => {});
    return;
  }
  it('pass (native/tests/native_tests.cc)', () => {
    const res = spawnSync(binary, [], { encoding: 'utf8', timeout: 120_000 });
    const output = `${res.stdout}${res.stderr}`;
    expect(output).toMatch(/\d+ checks, 0 failed/);
    expect(res.status, output).toBe(0);
  });
});
