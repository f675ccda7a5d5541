import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KESTREL_WARNING_TYPE, resetWarnOnce, warn, warnOnce } from '../../src/util/warn.js';

describe('warn', () => {
  let spy: ReturnType<typeof vi.spyOn>;
  beforeEach(() => {
    resetWarnOnce();
    spy = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  });
  afterEach(() => {
    spy.mockRestore();
  });

  it('emits a KestrelWarning with the code', () => {
    warn('TEST_CODE', 'something happened');
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy).toHaveBeenCalledWith('something happened', { code: 'TEST_CODE', type: KESTREL_WARNING_TYPE });
    warn('TEST_CODE', 'something happened');
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('warnOnce deduplicates per code and message', () => {
    expect(warnOnce('A', 'one')).toBe(true);
    expect(warnOnce('A', 'one')).toBe(false);
    expect(warnOnce('A', 'two')).toBe(true);
    expect(warnOnce('B', 'one')).toBe(true);
    expect(spy).toHaveBeenCalledTimes(3);
    resetWarnOnce();
    expect(warnOnce('A', 'one')).toBe(true);
  });
});

describe('warn through the real process event', () => {
  it('reaches process "warning" listeners with name KestrelWarning', async () => {
    const received = new Promise<Error & { code?: string }>((resolve) => {
      process.once('warning', (w) => resolve(w as Error & { code?: string }));
    });
    warn('REAL_CODE', 'real message');
    const w = await received;
    expect(w.name).toBe('KestrelWarning');
    expect(w.code).toBe('REAL_CODE');
    expect(w.message).toBe('real message');
  });
});
