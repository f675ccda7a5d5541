#!/usr/bin/env node
// Produces the prebuilt CPU binary prebuilds/<platform>-<arch>/kestrel.node with prebuildify
// (node-gyp over binding.gyp, Node-API so one binary serves every Node the package supports, >= 20.19), then checks that
// node-gyp-build loads it without compiling. node-gyp replaces build/; run
// `node scripts/build-native.mjs --force` afterwards for the cmake-js build and the C++ tests.
//
// Offline, like the install: the target is the running Node (prebuildify's default, the newest
// Node it knows, would make node-gyp download that version's headers), node-gyp reads this
// Node's own headers (npm_config_nodedir), and node-gyp is the installed one or npm's bundled
// copy (it is rarely on PATH, where prebuildify looks by default).
//
//   node scripts/prebuild.mjs
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeDir, nodeGypScript } from './build-native.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const dir = nodeDir();
const gyp = nodeGypScript();
if (dir === null || gyp === null) {
  process.stderr.write(`prebuild: ${dir === null ? 'Node headers (include/node/node_api.h)' : 'node-gyp'} not found\n`);
  process.exit(1);
}
const cli = require.resolve('prebuildify/bin.js');
const res = spawnSync(
  process.execPath,
  [cli, '--napi', '--strip', '--target', process.versions.node],
  {
    cwd: root,
    stdio: 'inherit',
    // prebuildify spawns PREBUILD_NODE_GYP through PREBUILD_SHELL: node-gyp's script run by
    // this Node.
    env: {
      ...process.env,
      npm_config_nodedir: dir,
      PREBUILD_NODE_GYP: `"${process.execPath}" "${gyp}"`,
      PREBUILD_SHELL: process.platform === 'win32' ? 'cmd.exe' : '/bin/sh',
    },
  },
);
if (res.status !== 0) process.exit(res.status ?? 1);
const nodeGypBuild = require('node-gyp-build');
const file = nodeGypBuild.path(root);
if (!file.includes(`${path.sep}prebuilds${path.sep}`)) {
  process.stderr.write(`prebuild: node-gyp-build resolved ${file}, not the prebuild\n`);
  process.exit(1);
}
const addon = require(file);
process.stdout.write(`prebuild: ${file} loads (isa ${addon.buildInfo().isa}, ${addon.buildInfo().buildSystem})\n`);

