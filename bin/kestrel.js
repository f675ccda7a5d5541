#!/usr/bin/env node
// The `kestrel` command. Runs the compiled CLI from dist/ (built by `npm run prepare`); in a dev
// checkout without dist/ it registers tsx and runs the TypeScript sources instead.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/main.js', import.meta.url);
let cli;
if (existsSync(dist)) {
  cli = await import(dist.href);
} else {
  // Both hooks, as `node --import tsx` does: .ts files outside a "type": "module" package are CommonJS.
  const [{ register }, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
  register();
  cjs.register();
  cli = await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
await cli.runAndExit(process.argv);
