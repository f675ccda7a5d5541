import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { currentProcessIdentity, ownerState } from '../../src/util/process-identity.js';

const me = currentProcessIdentity();

describe.runIf(me !== null)('process identity (Linux)', () => {
  it('names this process by pid, host, boot, PID namespace and start time', () => {
    expect(me).toMatchObject({ pid: process.pid, host: hostname(), boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() });
    expect(me!.pidNs).toMatch(/^pid:\[\d+\]$/);
    expect(Number.isSafeInteger(me!.start)).toBe(true);
    expect(ownerState(me)).toBe('alive');
  });

  it('tells a live process from one that exited, and from a process that reuses its pid', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('spawn', resolve));
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const owner = { ...me!, pid: child.pid!, start };
    expect(ownerState(owner)).toBe('alive');
    expect(ownerState({ ...owner, start: start + 1 })).toBe('gone'); // that pid is another process now
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(ownerState(owner)).toBe('gone');
  });

  it('judges nothing it cannot check: another host, boot or PID namespace, or data that is no identity', () => {
    const other = { ...me!, start: me!.start + 1 }; // gone, were it of this host
    expect(ownerState(other)).toBe('gone');
    expect(ownerState({ ...other, host: 'elsewhere' })).toBe('unknown');
    expect(ownerState({ ...other, boot: 'another-boot' })).toBe('unknown');
    expect(ownerState({ ...other, pidNs: 'pid:[1]' })).toBe('unknown');
    for (const bad of [null, 'x', [], { pid: process.pid, host: me!.host }, { ...other, pid: -1 }, { ...other, start: '1' }]) {
      expect(ownerState(bad)).toBe('unknown');
    }
  });
});
