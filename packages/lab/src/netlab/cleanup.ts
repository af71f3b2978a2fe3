/**
 * Safety net: labs still alive when this process exits (normally, through an
 * uncaught exception, or on SIGINT/SIGTERM/SIGHUP) are torn down
 * synchronously. SIGKILL cannot be caught; `NetLab.sweep()` handles that.
 */
export interface SyncDestroyable {
  destroySync(): void;
}

const live = new Set<SyncDestroyable>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function destroyAll(): void {
  for (const lab of [...live]) {
    try {
      lab.destroySync();
    } catch (e) {
      process.stderr.write(`netlab: cleanup on exit failed: ${(e as Error).message}\n`);
    }
  }
  live.clear();
}

function onExit(): void {
  destroyAll();
}

function onSignal(signal: NodeJS.Signals): void {
  // Counted first: destroying the last lab uninstalls this listener.
  const others = process.listenerCount(signal) - (installed ? 1 : 0);
  destroyAll();
  // If nobody else handles this signal, restore the default behaviour
  // (terminate) that our listener suppressed, by re-raising it.
  if (others === 0) {
    uninstall();
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', onExit);
  for (const s of SIGNALS) process.off(s, onSignal);
}

export function track(lab: SyncDestroyable): void {
  live.add(lab);
  install();
}

export function untrack(lab: SyncDestroyable): void {
  live.delete(lab);
  if (live.size === 0) uninstall();
}
