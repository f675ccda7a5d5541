/**
 * Who a process is, recorded so that another process can later tell for sure that it has exited.
 *
 * A pid alone cannot say so: pids are reused, the same pid names different processes in different
 * PID namespaces (containers), and a host name can be shared by machines or by containers with
 * their own PID namespace. The identity therefore pins a process on Linux by
 *
 *   - `host`:  `os.hostname()`;
 *   - `boot`:  `/proc/sys/kernel/random/boot_id` (a new one at every boot, different per machine);
 *   - `pidNs`: the PID namespace, `readlink /proc/self/ns/pid` (e.g. `pid:[4026531836]`);
 *   - `pid` and `start`: the process start time in clock ticks since boot (field 22 of
 *     `/proc/<pid>/stat`, proc(5)), which a later process reusing the pid does not share.
 *
 * `ownerState` answers 'gone' only when all of host, boot and PID namespace are this process's own
 * and the process with that pid is absent, a zombie, or started at another time; anything it
 * cannot check is 'unknown', never 'gone'. Elsewhere than Linux (no /proc), or with a /proc of
 * another PID namespace, there is no identity (`currentProcessIdentity()` is null) and nothing is
 * ever judged gone.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/** JSON data naming one process for good (see the file comment). */
export interface ProcessIdentity {
  readonly pid: number;
  readonly host: string;
  readonly boot: string;
  readonly pidNs: string;
  readonly start: number;
}

let cached: ProcessIdentity | null | undefined;

/** This process's identity, or null where it cannot be read (not Linux, no /proc). */
export function currentProcessIdentity(): ProcessIdentity | null {
  if (cached === undefined) cached = readIdentity();
  return cached;
}

function readIdentity(): ProcessIdentity | null {
  try {
    // A /proc of another PID namespace (a host's mounted into a container) would name other
    // processes by these pids: only a /proc whose `self` is this process is used.
    if (readlinkSync('/proc/self') !== String(process.pid)) return null;
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidNs = readlinkSync('/proc/self/ns/pid');
    const stat = readStat(process.pid);
    if (boot === '' || pidNs === '' || stat === null) return null;
    return { pid: process.pid, host: hostname(), boot, pidNs, start: stat.start };
  } catch {
    return null;
  }
}

/**
 * Whether the process `owner` names is alive, gone for sure, or cannot be judged from here (another
 * host, boot or PID namespace; data that is not a `ProcessIdentity`; no /proc).
 */
export function ownerState(owner: unknown): 'alive' | 'gone' | 'unknown' {
  const me = currentProcessIdentity();
  if (me === null || !isProcessIdentity(owner)) return 'unknown';
  if (owner.host !== me.host || owner.boot !== me.boot || owner.pidNs !== me.pidNs) return 'unknown';
  if (owner.pid === me.pid) return owner.start === me.start ? 'alive' : 'gone';
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ESRCH') return 'gone';
    if (code !== 'EPERM') return 'unknown';
  }
  // A process with that pid exists (or EPERM: exists, another user's). Which one?
  const stat = readStat(owner.pid);
  if (stat === null) return 'unknown'; // hidden (hidepid) or gone between the two calls: not sure
  if (stat.state === 'Z' || stat.state === 'X') return 'gone'; // exited, not reaped yet
  return stat.start === owner.start ? 'alive' : 'gone';
}

/** Whether `value` has the shape of a `ProcessIdentity` (what it names is not checked). */
export function isProcessIdentity(value: unknown): value is ProcessIdentity {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { pid, host, boot, pidNs, start } = value as Record<string, unknown>;
  return (
    typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0 &&
    typeof host === 'string' && typeof boot === 'string' && boot !== '' && typeof pidNs === 'string' && pidNs !== '' &&
    typeof start === 'number' && Number.isSafeInteger(start) && start >= 0
  );
}

/**
 * Whether some process of this PID namespace has this pid (EPERM: it does, under another user).
 * Only that: not which process it is (pids are reused), nor anything about another PID namespace.
 */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

/** State and start time of a process from `/proc/<pid>/stat`, or null when unreadable. */
function readStat(pid: number): { readonly state: string; readonly start: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the fields follow the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const start = Number(fields[19]); // field 22, starttime
  if (state === undefined || !Number.isSafeInteger(start)) return null;
  return { state, start };
}
