/**
 * Test helper: silences `process.emitWarning` for the rest of the test (vi.restoreAllMocks ends
 * it) and records each warning as "CODE message"; resets warnOnce so that one-time warnings show.
 */
import { vi } from 'vitest';
import { resetWarnOnce } from '../src/util/warn.js';

export function captureWarnings(): string[] {
  const warnings: string[] = [];
  vi.spyOn(process, 'emitWarning').mockImplementation(((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
    warnings.push(`${String(code)} ${String(warning)}`);
  }) as typeof process.emitWarning);
  resetWarnOnce();
  return warnings;
}
