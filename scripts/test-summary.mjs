#!/usr/bin/env node
// Prints the one-line test summary of .ci/run, `N passed, N failed, N skipped`, from Vitest's JSON
// report (.test-results/vitest.json, written by the json reporter in vitest.config.ts).
// Exit status: 0 when at least one test ran and none failed; 1 otherwise (no report, zero tests,
// a failure, or a test file that failed to load), so an empty run is never mistaken for a pass.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const file = resolve(process.argv[2] ?? '.test-results/vitest.json');
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  console.log('0 passed, 0 failed');
  console.error(`test-summary: no readable Vitest JSON report at ${file} (${error.message})`);
  process.exit(1);
}

const count = (key) => (Number.isInteger(report[key]) ? report[key] : 0);
const passed = count('numPassedTests');
const failed = count('numFailedTests');
const skipped = count('numPendingTests') + count('numTodoTests');
const failedSuites = count('numFailedTestSuites');
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);

if (passed + failed === 0) {
  console.error('test-summary: no test ran');
  process.exit(1);
}
if (failed > 0 || failedSuites > 0 || report.success === false) {
  // Vitest counts suites: a file and each describe block in it (one failed test in a describe: 2).
  if (failedSuites > 0) console.error(`test-summary: ${failedSuites} test suite(s) failed (files and describe blocks)`);
  process.exit(1);
}
