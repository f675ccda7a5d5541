import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { detectGpus, detectWorkerGpus } from '../../src/tfjs/gpus.js';

describe('detectGpus options', () => {
  it('refuses a bad command or timeoutMs with InvalidOptionError, naming it', async () => {
    // These reached execFile, which threw Node's own RangeError / TypeError.
    const cases: [Record<string, unknown>, string][] = [
      [{ timeoutMs: -1 }, 'timeoutMs'],
      [{ timeoutMs: 2.5 }, 'timeoutMs'],
      [{ timeoutMs: '5000' }, 'timeoutMs'],
      [{ timeoutMs: 2 ** 31 }, 'timeoutMs'], // Node would fire the timer after 1 ms: no GPU found
      [{ command: 123 }, 'command'],
      [{ command: '' }, 'command'],
    ];
    for (const [options, key] of cases) {
      for (const detect of [detectGpus, detectWorkerGpus]) {
        let error: unknown = null;
        try {
          await detect(options as never);
        } catch (e) {
          error = e;
        }
        expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidOptionError);
        expect((error as InvalidOptionError).option).toBe(key);
      }
    }
    expect(await detectGpus({ command: 'kestrel-no-such-command-xyz', timeoutMs: 1000 })).toEqual([]);
  });
});
