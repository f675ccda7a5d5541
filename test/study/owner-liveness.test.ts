/**
 * Trials run by `optimize` record the process that runs them (`owner_process`), and a later
 * `optimize` on the same host records as FAIL the RUNNING trials whose owner process is gone,
 * heartbeats or not. Trials of a bare `study.ask()` are never judged this way (their owner may
 * tell them later from another process), nor are those of a process that is alive, of another
 * host, boot or PID namespace. `failStaleTrials` spares a stale-heartbeat trial by the same test:
 * only while its `heartbeat_owner` is certainly alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import type { TrialFinish } from '../../src/storage/storage.js';
import { createStudy, loadStudy } from '../../src/study/create-study.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import { SystemAttr } from '../../src/trial/system-attrs.js';
import { currentProcessIdentity } from '../../src/util/process-identity.js';
import { NO_SUCH_PID } from '../storage/fixtures/lock-line.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Starts the fixture; resolves the id of its never-ending trial once it has started. */
function startWorker(journal: string, mode: 'optimize' | 'ask'): { started: Promise<number>; exited: Promise<void>; child: ChildProcess } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/study/fixtures/killed-worker.ts', journal, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const started = new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const m = /^started (\d+)$/m.exec(out);
      if (m !== null) resolve(Number(m[1]));
    });
    child.on('exit', () => reject(new Error(`the worker exited before its trial started: ${out}`)));
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { started, exited, child };
}

const linux = currentProcessIdentity() !== null;

describe.runIf(linux)('RUNNING trials of a dead owner', () => {
  it('a SIGKILLed optimize leaves its trial RUNNING until a later optimize records it FAIL; a live one keeps it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-owner-'));
    const journal = join(dir, 'owned.journal');
    try {
      const worker = startWorker(journal, 'optimize');
      const trialId = await worker.started;
      const study = await loadStudy({ studyName: 'owned', storage: journal, sampler: new RandomSampler({ seed: 1 }) });
      try {
        const owner = (await study.storage.getTrial(trialId)).systemAttrs[SystemAttr.ownerProcess];
        expect(owner).toMatchObject({ pid: worker.child.pid });

        // Alive (and without heartbeats): a later optimize leaves its trial alone.
        await study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 1, handleSigint: false });
        expect((await study.storage.getTrial(trialId)).state).toBe('RUNNING');

        worker.child.kill('SIGKILL');
        await worker.exited;
        // Killed: the next optimize (this process, reading the journal the dead one wrote) fails it.
        await study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 1, handleSigint: false });
        const swept = await study.storage.getTrial(trialId);
        expect(swept.state).toBe('FAIL');
        expect(String(swept.systemAttrs[SystemAttr.failReason])).toMatch(
          new RegExp(`^stale: the process that ran it \\(pid ${worker.child.pid} on .+\\) has exited`),
        );
        expect(typeof swept.params.x).toBe('number'); // what it was running stays on record
        const trials = await study.getTrials();
        expect(trials.map((t) => t.state)).toEqual(['FAIL', 'COMPLETE', 'COMPLETE']);
      } finally {
        await study.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('never fails a trial of a bare study.ask(), whose owner may tell it from another process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-owner-'));
    const journal = join(dir, 'owned.journal');
    try {
      const worker = startWorker(journal, 'ask');
      const trialId = await worker.started;
      worker.child.kill('SIGKILL');
      await worker.exited;
      const study = await loadStudy({ studyName: 'owned', storage: journal, sampler: new RandomSampler({ seed: 1 }) });
      try {
        expect((await study.storage.getTrial(trialId)).systemAttrs[SystemAttr.ownerProcess]).toBeUndefined();
        await study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 1, handleSigint: false });
        expect((await study.storage.getTrial(trialId)).state).toBe('RUNNING');
        expect(await study.failOrphanedTrials()).toEqual([]);
        // Its owner (any process) can still tell it.
        expect((await study.tell(0, 0.25)).state).toBe('COMPLETE');
      } finally {
        await study.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe.runIf(linux)('failOrphanedTrials', () => {
  /** A study holding one RUNNING trial per owner record; returns it and the trial numbers. */
  async function studyWithOwners(owners: readonly unknown[]) {
    const storage = new InMemoryStorage();
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 3 }) });
    for (const owner of owners) {
      await storage.createTrial(study.studyId, { systemAttrs: { [SystemAttr.ownerProcess]: owner as never } });
    }
    return study;
  }

  it('fails only trials whose owner is provably gone: same host, boot and PID namespace, and not that process', async () => {
    const me = currentProcessIdentity()!;
    const study = await studyWithOwners([
      me, // 0: this process (alive)
      { ...me, start: me.start + 1 }, // 1: a process that had this pid before (pid reused by this one)
      { ...me, host: `${me.host}-elsewhere`, start: me.start + 1 }, // 2: another host
      { ...me, boot: 'another-boot', start: me.start + 1 }, // 3: before a reboot, or another machine of that name
      { ...me, pidNs: 'pid:[1]', start: me.start + 1 }, // 4: another PID namespace (a container)
      { pid: me.pid, host: me.host }, // 5: too little to judge
      'garbage', // 6
      { ...me, pid: 2 ** 22 + 12345 }, // 7: a pid above pid_max: no such process
    ]);
    const failed = await study.failOrphanedTrials();
    expect(failed).toEqual([1, 7]);
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['RUNNING', 'FAIL', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'FAIL']);
    expect(String(trials[1].systemAttrs[SystemAttr.failReason])).toMatch(/^stale: the process that ran it \(pid \d+ on .+\) has exited/);
  });

  it('leaves trials this Study object is running alone, and those optimize stamps carry this process', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 4 }) });
    let owner: unknown;
    await study.optimize(
      async (trial) => {
        owner = (await study.storage.getTrial(trial.trialId)).systemAttrs[SystemAttr.ownerProcess];
        expect(await study.failOrphanedTrials()).toEqual([]);
        return trial.suggestFloat('x', 0, 1);
      },
      { nTrials: 1, handleSigint: false },
    );
    expect(owner).toEqual(currentProcessIdentity());
    const asked = await study.ask();
    expect((await study.storage.getTrial(asked.trialId)).systemAttrs[SystemAttr.ownerProcess]).toBeUndefined();
  });

  it('fails a trial this process gave up on (its FAIL refused) from a Study object reopened in it, and no other trial of it', async () => {
    // optimize could record neither the result nor a FAIL (TRIAL_RESULT_NOT_RECORDED) and released
    // the trial: it stayed RUNNING, owned by this live process, which no sweep of it ever failed.
    class RefusingStorage extends InMemoryStorage {
      refuse = false;
      override async finishTrial(trialId: number, finish: TrialFinish): Promise<FrozenTrial> {
        if (this.refuse) throw new StorageError('disk gone');
        return super.finishTrial(trialId, finish);
      }
    }
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const storage = new RefusingStorage();
    const study = await createStudy({ studyName: 'gave-up', storage, sampler: new RandomSampler({ seed: 5 }) });
    const run = study.optimize(
      (trial) => {
        storage.refuse = true;
        return trial.suggestFloat('x', 0, 1);
      },
      { nTrials: 1, handleSigint: false },
    );
    await expect(run).rejects.toThrow('disk gone');
    // A RUNNING trial of this process that it did not give up on: no Study object holds it live,
    // yet it is spared (one still being created or withdrawn looks the same to a sweep).
    const other = await storage.createTrial(study.studyId, { systemAttrs: { [SystemAttr.ownerProcess]: { ...currentProcessIdentity()! } } });
    storage.refuse = false;

    const reopened = await loadStudy({ studyName: 'gave-up', storage });
    expect(await reopened.failOrphanedTrials()).toEqual([0]);
    const trials = await reopened.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'RUNNING']);
    expect(String(trials[0].systemAttrs[SystemAttr.failReason])).toMatch(/^its result could not be recorded: .*disk gone/);
    expect(trials[1].trialId).toBe(other.trialId);
    expect(await reopened.failOrphanedTrials()).toEqual([]);
  });

  it('stamps an enqueued trial that optimize pops with this process, over what it held', async () => {
    const storage = new InMemoryStorage();
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 5 }) });
    const me = currentProcessIdentity()!;
    await storage.createTrial(study.studyId, {
      state: 'WAITING',
      systemAttrs: { [SystemAttr.fixedParams]: { x: 0.5 }, [SystemAttr.ownerProcess]: { ...me, start: me.start + 1 } },
    });
    let owner: unknown;
    await study.optimize(
      async (trial) => {
        owner = (await study.storage.getTrial(trial.trialId)).systemAttrs[SystemAttr.ownerProcess];
        return trial.suggestFloat('x', 0, 1);
      },
      { nTrials: 1, handleSigint: false },
    );
    expect(owner).toEqual(me);
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['COMPLETE']);
  });
});

describe.runIf(linux)('failStaleTrials and heartbeat_owner', () => {
  /** The start time of a live process (field 22 of /proc/<pid>/stat). */
  function startOf(pid: number): number {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  }

  it('stamps a trial asked with heartbeats with this process identity', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 6 }) });
    const trial = await study.ask({ heartbeat: true });
    expect((await study.storage.getTrial(trial.trialId)).systemAttrs[SystemAttr.heartbeatOwner]).toEqual(currentProcessIdentity());
  });

  it('spares a stale trial only while its owner is a live process of this host, boot and PID namespace', async () => {
    const me = currentProcessIdentity()!;
    const parent = { ...me, pid: process.ppid, start: startOf(process.ppid) }; // alive: our parent
    const storage = new InMemoryStorage();
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 7 }) });
    const owners: readonly [unknown, number][] = [
      [parent, 60_000], // 0: alive, its heartbeat blocked by a synchronous objective: spared
      [{ ...parent, start: parent.start + 1 }, 60_000], // 1: its pid names another process now (reused)
      [{ ...parent, pidNs: 'pid:[1]' }, 60_000], // 2: another PID namespace (a container): judged as another host
      [{ ...parent, boot: 'another-boot' }, 60_000], // 3: another boot
      [{ ...me, pid: NO_SUCH_PID }, 60_000], // 4: exited
      [me, 60_000], // 5: this process (another Study object in it): the heartbeat alone judges
      [{ pid: process.ppid, host: me.host }, 60_000], // 6: an earlier version's owner, a live pid here: spared
      [{ pid: NO_SUCH_PID, host: me.host }, 60_000], // 7: an earlier version's owner, no such pid here
      [{ ...me, pid: NO_SUCH_PID }, 1_000], // 8: exited, but its heartbeat is within the grace
    ];
    for (const [owner, ageMs] of owners) {
      await storage.createTrial(study.studyId, {
        systemAttrs: { [SystemAttr.heartbeat]: Date.now() - ageMs, [SystemAttr.heartbeatOwner]: owner as never },
      });
    }
    expect(await study.failStaleTrials({ graceMs: 30_000 })).toEqual([1, 2, 3, 4, 5, 7]);
    const states = (await study.getTrials()).map((t) => t.state);
    expect(states).toEqual(['RUNNING', 'FAIL', 'FAIL', 'FAIL', 'FAIL', 'FAIL', 'RUNNING', 'FAIL', 'RUNNING']);
  });
});
