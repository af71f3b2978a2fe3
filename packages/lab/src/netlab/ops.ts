import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/**
 * Teardown has to run both asynchronously (`destroy()`) and synchronously
 * (process 'exit' handler, where no promise will ever settle). It is written
 * once, as a generator that yields the commands and sleeps it needs, and
 * driven by either `driveSync` or `driveAsync`.
 */
export type Op = { kind: 'run'; cmd: string; args: string[] } | { kind: 'sleep'; ms: number };

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Steps<T> = Generator<Op, T, RunResult | undefined>;

const TIMEOUT_MS = 15000;

function which(name: string, dirs: string[]): string {
  for (const d of dirs) if (existsSync(`${d}/${name}`)) return `${d}/${name}`;
  return name;
}

const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
/** Absolute paths so that a PATH without sbin (common for non-login shells) still works. */
export const IP = which('ip', SBIN);
export const TC = which('tc', SBIN);
export const SH = which('sh', ['/bin', '/usr/bin']);

export function runSync(cmd: string, args: string[]): RunResult {
  try {
    const stdout = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: TIMEOUT_MS });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    const err = e as { status?: number | null; stdout?: string; stderr?: string; message?: string };
    return { code: err.status ?? -1, stdout: String(err.stdout ?? ''), stderr: String(err.stderr ?? err.message ?? '') };
  }
}

export function run(cmd: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (!error) return resolve({ code: 0, stdout, stderr });
      const code = typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : -1;
      resolve({ code, stdout: String(stdout ?? ''), stderr: String(stderr || error.message) });
    });
  });
}

/** Runs a command and throws with its stderr when it fails. */
export async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`netlab: \`${[cmd, ...args].join(' ')}\` failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function driveSync<T>(steps: Steps<T>): T {
  let next = steps.next();
  while (!next.done) {
    const op = next.value;
    if (op.kind === 'sleep') {
      sleepSync(op.ms);
      next = steps.next(undefined);
    } else {
      next = steps.next(runSync(op.cmd, op.args));
    }
  }
  return next.value;
}

export async function driveAsync<T>(steps: Steps<T>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    const op = next.value;
    if (op.kind === 'sleep') {
      await new Promise((r) => setTimeout(r, op.ms));
      next = steps.next(undefined);
    } else {
      next = steps.next(await run(op.cmd, op.args));
    }
  }
  return next.value;
}

/** `const r = yield* cmd(IP, [...])` inside a Steps generator. */
export function* cmd(c: string, args: string[]): Steps<RunResult> {
  const r = yield { kind: 'run', cmd: c, args };
  return r ?? { code: -1, stdout: '', stderr: 'no result' };
}

export function* sleep(ms: number): Steps<void> {
  yield { kind: 'sleep', ms };
}

/** True when a process with this pid exists (EPERM also means it exists). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A zombie (killed, not yet reaped: e.g. our own child while the event loop
  // is blocked in a synchronous teardown) holds no resources: count it dead.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function killQuiet(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}
