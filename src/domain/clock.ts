/**
 * Time as the scheduler and the lifecycle runner see it. `kiln serve` uses the system clock; tests inject a
 * TestClock and move it forward by hand, so schedules are checked at exact instants without sleeping.
 */

/** A source of the current time and of wake-ups at a given instant. */
export interface Clock {
  now(): Date;
  /**
   * Resolves when the clock reads `at` or later, or when `signal` aborts (then it resolves too: callers
   * check the signal). Never rejects.
   */
  sleepUntil(at: Date, signal: AbortSignal): Promise<void>;
}

/** The wall clock; long waits are cut into short timers so a changed system time is noticed within a minute. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleepUntil(at, signal) {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      let timer: NodeJS.Timeout;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const arm = () => {
        const left = at.getTime() - Date.now();
        if (left <= 0) return done();
        timer = setTimeout(arm, Math.min(left, 60_000));
      };
      signal.addEventListener('abort', done, { once: true });
      arm();
    });
  },
};

/** A clock that moves only when told to; sleepers wake when `set` or `advance` reaches their instant. */
export class TestClock implements Clock {
  private current: number;
  private readonly sleepers = new Set<{ at: number; wake: () => void }>();

  constructor(start: Date | string) {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  sleepUntil(at: Date, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || at.getTime() <= this.current) return resolve();
      const sleeper = {
        at: at.getTime(),
        wake: () => {
          this.sleepers.delete(sleeper);
          signal.removeEventListener('abort', sleeper.wake);
          resolve();
        },
      };
      this.sleepers.add(sleeper);
      signal.addEventListener('abort', sleeper.wake, { once: true });
    });
  }

  /** Moves the clock to `to` (never backwards) and wakes every sleeper whose instant has come. */
  set(to: Date | string): void {
    this.current = Math.max(this.current, new Date(to).getTime());
    for (const s of [...this.sleepers]) if (s.at <= this.current) s.wake();
  }

  advance(ms: number): void {
    this.set(new Date(this.current + ms));
  }
}
