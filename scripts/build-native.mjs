#!/usr/bin/env node
// Builds the native addon at `npm install` time, without network access.
//
//   node scripts/build-native.mjs [--force] [--quiet]
//
// 1. Unless --force: if a binary already loads (prebuilds/<platform>-<arch>/ via node-gyp-build,
//    or build/Release/kestrel.node), stop.
// 2. cmake-js (Release) into build/, with the Node headers of the running node (no download:
//    npm_config_nodedir points cmake-js at them) and node-addon-api's include dir.
// 3. If cmake-js fails: node-gyp rebuild (binding.gyp, CPU only, same source list).
// 4. If everything fails: print ONE warning line and exit 0; the library then uses the
//    TypeScript surrogate at run time.
// CUDA is opt-in (KESTREL_CUDA=1) because it adds minutes to a 2-core install; see bench/surrogate.md.
// KESTREL_REQUIRE_NATIVE=1 (set by .ci/run): a failed cmake-js build exits 1 instead of falling
// back, so that a broken CMakeLists.txt fails CI rather than leaving it green on node-gyp's addon;
// so does every other way of ending without an addon (no Node headers, an unexpected error).
// The C++ tests (native/tests) are built only in a git checkout, where `npm test` runs them; an
// installed package skips them.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = new Set(process.argv.slice(2));
const force = args.has('--force');
const quiet = args.has('--quiet');

function log(message) {
  if (!quiet) process.stderr.write(`kestrel: ${message}\n`);
}

/**
 * Whether node-gyp-build loads a binary for this package. Tried in a child process: a damaged
 * binary (a truncated build/Release/kestrel.node left by an interrupted build) can kill the
 * process that loads it (SIGBUS in the dynamic linker) rather than throw, and that must end the
 * probe, not this script (which then rebuilds).
 */
function loads() {
  let nodeGypBuild;
  try {
    nodeGypBuild = require.resolve('node-gyp-build');
  } catch {
    return false;
  }
  const res = spawnSync(process.execPath, ['-e', 'require(process.argv[1])(process.argv[2])', nodeGypBuild, root], {
    stdio: 'ignore',
  });
  return res.status === 0;
}

/** Directory holding include/node/node_api.h for the running node (nodedir), or null. */
export function nodeDir() {
  const candidates = [
    process.env.npm_config_nodedir,
    path.resolve(process.execPath, '..', '..'),
    '/usr',
    '/usr/local',
  ].filter((d) => typeof d === 'string' && d.length > 0);
  for (const dir of candidates) {
    if (existsSync(path.join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  return null;
}

function run(command, argv, env) {
  log(`${command} ${argv.join(' ')}`);
  const res = spawnSync(command, argv, { cwd: root, stdio: quiet ? 'ignore' : 'inherit', env });
  return res.status === 0;
}

function cmakeJs(dir) {
  let cli;
  try {
    cli = require.resolve('cmake-js/bin/cmake-js');
  } catch {
    log('cmake-js is not installed');
    return false;
  }
  const napiInclude = path.resolve(root, require('node-addon-api').include_dir.replace(/^"|"$/g, ''));
  const env = { ...process.env, npm_config_nodedir: dir };
  const jobs = String(Math.max(1, os.availableParallelism()));
  return run(
    process.execPath,
    [
      cli,
      force ? 'rebuild' : 'build',
      '--config',
      'Release',
      '--directory',
      root,
      '--out',
      path.join(root, 'build'),
      '--parallel',
      jobs,
      `--CDNODE_INCLUDE_DIR=${path.join(dir, 'include', 'node')}`,
      `--CDKESTREL_NAPI_INCLUDE_DIR=${napiInclude}`,
      `--CDKESTREL_BUILD_TESTS=${existsSync(path.join(root, '.git')) ? 'ON' : 'OFF'}`,
      ...(quiet ? ['--log-level', 'error'] : []),
    ],
    env,
  );
}

/** node-gyp's script: the installed package, else the copy bundled with npm; or null. */
export function nodeGypScript() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const bundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    return existsSync(bundled) ? bundled : null;
  }
}

function nodeGyp(dir) {
  const cli = nodeGypScript();
  if (cli === null) {
    log('node-gyp is not available');
    return false;
  }
  return run(process.execPath, [cli, 'rebuild', `--nodedir=${dir}`], { ...process.env, npm_config_nodedir: dir });
}

/** Under KESTREL_REQUIRE_NATIVE=1, ends the install with exit code 1 and `reason`. */
function requireNativeOrWarn(reason) {
  if (process.env.KESTREL_REQUIRE_NATIVE === '1') {
    process.stderr.write(`kestrel: error: ${reason} and KESTREL_REQUIRE_NATIVE=1\n`);
    process.exit(1);
  }
}

function main() {
  if (!force && loads()) {
    log('native addon already built; skipping (use --force to rebuild)');
    return;
  }
  // A binary left in build/Release that does not load (truncated, another machine's) can be newer
  // than its sources, and make/ninja would then call it up to date and not relink it.
  rmSync(path.join(root, 'build', 'Release', 'kestrel.node'), { force: true });
  const dir = nodeDir();
  if (dir === null) {
    requireNativeOrWarn('Node headers (include/node/node_api.h) not found; native addon not built');
    process.stderr.write('kestrel: warning: Node headers (include/node/node_api.h) not found; native addon not built, the TypeScript surrogate will be used\n');
    return;
  }
  if (cmakeJs(dir) && loads()) return;
  requireNativeOrWarn('the cmake-js build failed');
  log('cmake-js build failed; trying node-gyp');
  if (nodeGyp(dir) && loads()) return;
  process.stderr.write('kestrel: warning: the native addon could not be built (cmake-js and node-gyp failed); the TypeScript surrogate will be used\n');
}

// Run as a script (npm install); imported (scripts/prebuild.mjs), only the helpers above.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    requireNativeOrWarn(`native build failed: ${message}`);
    process.stderr.write(`kestrel: warning: native build skipped: ${message}\n`);
  }
  process.exit(0);
}
