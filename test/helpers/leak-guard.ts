/**
 * A mocha root-hook plugin (loaded by .mocharc.json's "require") that turns a
 * leaked handle into a failure. The suite runs without mocha's `exit: true`,
 * so anything still holding the event loop after the last test (a timer, a
 * socket, a server) keeps the process alive. After all tests this arms an
 * unref'd timer: it never keeps the process alive itself, but if the process
 * is still running HSFL_TEST_LEAK_GRACE_MS (default 5000) later, something
 * leaked: it prints what is still active and exits with status 1.
 *
 * HSFL_TEST_LEAK_STACKS=1 also records where every timer still pending was
 * created (async_hooks; slows the suite a little).
 */
import { createHook } from 'node:async_hooks';

const timerStacks = new Map<number, { stack: string; resource: { _idleTimeout?: number; hasRef?: () => boolean } }>();
if (process.env.HSFL_TEST_LEAK_STACKS === '1') {
  createHook({
    init(id, type, _trigger, resource) {
      if (type !== 'Timeout') return;
      const stack = (new Error().stack ?? '').split('\n').slice(2, 14).filter((l) => !l.includes('node:internal')).join('\n');
      timerStacks.set(id, { stack, resource: resource as { _idleTimeout?: number; hasRef?: () => boolean } });
    },
    destroy(id) {
      timerStacks.delete(id);
    },
  }).enable();
}

function describeHandle(h: unknown): string {
  const o = h as { constructor?: { name?: string }; localPort?: number; remoteAddress?: string; remotePort?: number; address?: () => unknown; pid?: number };
  const name = o?.constructor?.name ?? typeof h;
  if (name === 'Socket' && o.remotePort) return `Socket :${o.localPort} -> ${o.remoteAddress}:${o.remotePort}`;
  if (name === 'Server') return `Server ${JSON.stringify(o.address?.())}`;
  if (name === 'ChildProcess') return `ChildProcess pid ${o.pid}`;
  return name;
}

export const mochaHooks = {
  afterAll(): void {
    const grace = Number(process.env.HSFL_TEST_LEAK_GRACE_MS ?? 5000);
    const timer = setTimeout(() => {
      const lines = [
        `leak guard: the test process is still running ${grace} ms after the last test; something leaked a handle.`,
        `  active resources: ${JSON.stringify(process.getActiveResourcesInfo())}`,
      ];
      const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
      for (const h of handles) lines.push(`  handle: ${describeHandle(h)}`);
      for (const { stack, resource } of timerStacks.values()) {
        if ((resource._idleTimeout ?? -1) > 0 && resource.hasRef?.()) lines.push(`  pending timer of ${resource._idleTimeout} ms created\n${stack}`);
      }
      if (process.env.HSFL_TEST_LEAK_STACKS !== '1') lines.push('  (HSFL_TEST_LEAK_STACKS=1 shows where pending timers were created)');
      process.stderr.write(lines.join('\n') + '\n');
      process.exit(1);
    }, grace);
    timer.unref();
  },
};
