/**
 * The package as a consumer installs it: what `npm pack` ships (package.json `files`) and what
 * its `exports` map lets a consumer load. Offline: `npm pack --dry-run --json` lists the files
 * without building or writing a tarball (--ignore-scripts: `prepare` is not needed for the list).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/binding/load.js';

const root = packageRoot();
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | Record<string, string>>;
};

describe('package.json exports', () => {
  it('resolves every subpath for import and require, types first', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      // `default` serves both import and require (Node >= 20.19 requires ES modules without
      // top-level await); an `import`-only entry made require('kestrel') fail with
      // ERR_PACKAGE_PATH_NOT_EXPORTED "No exports main defined".
      expect(Object.keys(target), subpath).toEqual(['types', 'default']);
    }
    expect(pkg.exports['./package.json']).toBe('./package.json');
  });

  const built = existsSync(path.join(root, 'dist', 'index.js')) && existsSync(path.join(root, 'dist', 'tfjs', 'index.js'));
  it.skipIf(!built)('loads kestrel and kestrel/tfjs through require() and import (package self-reference)', () => {
    const script = `
      const core = require('kestrel');
      const tfjs = require('kestrel/tfjs');
      import('kestrel').then((esm) => {
        process.stdout.write(JSON.stringify({
          same: esm.createStudy === core.createStudy,
          core: typeof core.createStudy,
          tfjs: typeof tfjs.tfObjective,
          version: require('kestrel/package.json').version,
        }));
      });`;
    const run = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ same: true, core: 'function', tfjs: 'function', version: expect.any(String) });
  }, 90_000);
});
