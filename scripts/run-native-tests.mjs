#!/usr/bin/env node
// Builds (CMake, no Node addon) and runs the C++ tests of native/tests.
//
//   node scripts/run-native-tests.mjs [--no-build]
//
// The binary goes to build/native-tests/kestrel_native_tests (an `npm install` build also leaves
// one at build/kestrel_native_tests). Exit code: the tests' (0 = all passed).
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = path.join(root, 'build', 'native-tests');
const noBuild = process.argv.includes('--no-build');

function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (res.error) {
    process.stderr.write(`run-native-tests: ${cmd}: ${res.error.message}\n`);
    return 1;
  }
  return res.status ?? 1;
}

if (!noBuild) {
  const configure = run('cmake', ['-S', root, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release', '-DKESTREL_BUILD_ADDON=OFF', '-DKESTREL_BUILD_TESTS=ON']);
  if (configure !== 0) process.exit(configure);
  const build = run('cmake', ['--build', buildDir, '--target', 'kestrel_native_tests', '--parallel', String(os.availableParallelism())]);
  if (build !== 0) process.exit(build);
}
process.exit(run(path.join(buildDir, 'kestrel_native_tests'), []));
