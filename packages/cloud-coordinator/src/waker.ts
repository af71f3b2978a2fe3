/**
 * One sleeper at a time that any event can wake early: the run loop waits
 * on it for the fleet, capacity reports, a resume or a stop.
 */
export class Waker {
  private wakeUp?: () => void;

  /** Resolves after `ms` or at the next wake(), whichever comes first. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeUp === done) this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  wake(): void {
    this.wakeUp?.();
  }
}
