import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { EventEmitter } from 'node:events';

export type ProgressLine = Record<string, unknown> & { type: string };

/**
 * How to start the process instead of `node script args`: `command` is run
 * with `argsPrefix` before the script, e.g. the line `NetLab.command(host,
 * process.execPath)` returns, so the process runs inside an emulated host.
 */
export interface LaunchPrefix {
  command: string;
  argsPrefix: string[];
}

export interface ManagedProcessOptions {
  /**
   * Start the process as the leader of its own process group, so that
   * `signal()` and `kill()` reach everything it may have started (chaos
   * tests kill whole groups). Default false.
   */
  processGroup?: boolean;
}

/**
 * A child process of the lab whose stdout speaks JSON lines (--progress
 * jsonl) and whose stderr (structured logs) goes to a file.
 */
export class ManagedProcess extends EventEmitter {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private readonly log: WriteStream;
  private readonly seen: ProgressLine[] = [];
  private stderrTail: string[] = [];
  exitCode: number | null | undefined;

  /** Whether the process leads its own process group (ManagedProcessOptions.processGroup). */
  readonly processGroup: boolean;

  constructor(readonly name: string, script: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = {}, launch?: LaunchPrefix, options: ManagedProcessOptions = {}) {
    super();
    this.processGroup = options.processGroup === true;
    this.log = createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(launch ? launch.command : process.execPath, launch ? [...launch.argsPrefix, script, ...args] : [script, ...args], {
      // stdin stays open as a lifeline: the role CLIs exit when it closes,
      // so no process outlives a launcher that was killed.
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: this.processGroup,
      env: { ...process.env, HSFL_LAB_PARENT_PIPE: '1', ...env },
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let msg: ProgressLine;
      try {
        msg = JSON.parse(line) as ProgressLine;
      } catch {
        this.log.write(`[stdout] ${line}\n`);
        return;
      }
      this.seen.push(msg);
      if (this.seen.length > 1000) this.seen.splice(0, this.seen.length - 1000);
      this.emit('line', msg);
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      this.stderrTail.push(chunk.toString());
      if (this.stderrTail.length > 40) this.stderrTail.splice(0, this.stderrTail.length - 40);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        this.exitCode = code;
        this.log.end();
        this.emit('exit', code);
        resolve(code);
      });
    });
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  stderr(): string {
    return this.stderrTail.join('').split('\n').slice(-15).join('\n');
  }

  /** Resolves with the first progress line (seen before or after the call) that matches. */
  waitFor(pred: (m: ProgressLine) => boolean, timeoutMs: number, what: string): Promise<ProgressLine> {
    const earlier = this.seen.find(pred);
    if (earlier) return Promise.resolve(earlier);
    return new Promise((resolve, reject) => {
      const onLine = (m: ProgressLine) => {
        if (!pred(m)) return;
        cleanup();
        resolve(m);
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`${this.name} exited (code ${code}) while waiting for ${what}:\n${this.stderr()}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('line', onLine);
        this.off('exit', onExit);
      };
      this.on('line', onLine);
      this.on('exit', onExit);
      if (!this.alive) onExit(this.exitCode ?? null);
    });
  }

  /** The OS process id (also the process group id with `processGroup`). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Sends `signal` to the process, or to its whole process group with
   * `processGroup` (the group may outlive its leader). Returns whether
   * anything was signalled.
   */
  signal(signal: NodeJS.Signals): boolean {
    const pid = this.child.pid;
    if (pid === undefined) return false;
    if (this.processGroup) {
      try {
        process.kill(-pid, signal);
        return true;
      } catch {
        return false;
      }
    }
    return this.alive ? this.child.kill(signal) : false;
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    if (!this.alive) {
      // A group leader may be gone while members it started are not.
      if (this.processGroup) this.signal('SIGKILL');
      return;
    }
    // A stopped process would not act on SIGTERM until continued.
    if (signal !== 'SIGKILL') this.signal('SIGCONT');
    this.signal(signal);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    if (this.processGroup) this.signal('SIGKILL');
  }
}
