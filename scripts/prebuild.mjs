#!/usr/bin/env node
// Produces the prebuilt CPU binary prebuilds/<platform>-<arch>/kestrel.node with prebuildify
// (node-gyp over binding.gyp, Node-API so one binary serves every Node >= 20), then checks that
// node-gyp-build loads it without compiling. node-gyp replaces build/; run
// `node scripts/build-native.mjs --force` afterwards for the cmake-js build and the C++ tests.
//
//   node scripts/prebuild.mjs
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const cli = require.resolve('prebuildify/bin.js');
const res = spawnSync(process.execPath, [cli, '--napi', '--strip'], { cwd: root, stdio: 'inherit' });
if (res.status !== 0) process.exit(res.status ?? 1);
const nodeGypBuild = require('node-gyp-build');
const file = nodeGypBuild.path(root);
if (!file.includes(`${path.sep}prebuilds${path.sep}`)) {
  process.stderr.write(`prebuild: node-gyp-build resolved ${file}, not the prebuild\n`);
}
const addon = require(file);
process.stdout.write(`prebuild: ${file} loads (isa ${addon.buildInfo().isa}, ${addon.buildInfo().buildSystem})\n`);
