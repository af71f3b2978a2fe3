// How a node process ends: SIGTERM or SIGINT ends it within a few seconds
// whatever it waits for, saying what it abandoned; a second signal ends it at
// once; a parent's permanent goodbye ends it with EXIT_GONE.
import type { EventEmitter } from 'node:events';
import type { LogLike } from '@hsfl/protocol';

/** Exit code of a node its parent sent away for good (a restart policy can leave it out). */
export const EXIT_GONE = 3;

export interface StoppableNode extends EventEmitter {
  readonly activity: string;
  stop(): Promise<void>;
}

export function exitOnSignals(node: StoppableNode, log: LogLike, graceMs = 3000): void {
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    signalled = true;
    log.info({ signal, abandoned: node.activity }, `shutting down; abandoning ${node.activity}`);
    setTimeout(() => {
      log.error({}, 'shutdown took too long; exiting');
      process.exit(1);
    }, graceMs).unref();
    void node.stop().finally(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  node.on('gone', (reason: string) => {
    log.warn({ reason }, 'sent away for good by the parent; exiting');
    void node.stop().finally(() => process.exit(EXIT_GONE));
  });
}
