/**
 * One cleanup stack per build (or per launch): whoever acquires a resource registers its undo right away, and
 * `unwind` releases everything still held in reverse order on success, failure or cancel. An undo that fails is
 * logged with what it leaked and the others still run; nothing is swallowed. It lives in `domain/` because the
 * drivers (a VM launch that fails half-way) unwind the same way the builder does.
 */
import { withTimeout } from './abort.js';
import { errorMessage } from './errors.js';

/** Releases one resource. The signal bounds the release; it is not the build's signal, which may have fired. */
export type Undo = (signal: AbortSignal) => Promise<void>;

/** A resource that could not be released: what it was, and why. */
export interface Leak {
  what: string;
  error: string;
}

/** One registered undo, for the owner that ends the resource's life before the stack unwinds. */
export interface Deferred {
  /** What the resource is, as the leak line names it. */
  readonly what: string;
  /**
   * Runs the undo now and takes it off the stack. A failure is logged as a leak and rethrown, so the step that
   * asked for the release fails with it. A second call (or a call after `dismiss` or `unwind`) does nothing.
   */
  release(): Promise<void>;
  /** Takes the undo off the stack without running it: the resource now belongs to someone else (a kept instance). */
  dismiss(): void;
}

export interface CleanupStackOptions {
  /** Where leak lines go (a build's server log, a step log): each is one line ending in a newline. */
  log: (text: string) => void;
  /** When the signal an undo gets aborts (default 120 s): undos that honour it cannot hold an unwind forever. */
  undoTimeoutMs?: number;
}

/** The line a leak is logged with; `where` says whose stack it was (an image ARN, a VM name). */
export function leakLine(where: string, leak: Leak): string {
  return `${where}: releasing ${leak.what} failed, it is leaked until the next start of Kiln sweeps it: ${leak.error}\n`;
}

export class CleanupStack {
  private readonly entries: { what: string; undo: Undo }[] = [];
  private unwound = false;

  /** `where` names the owner of the stack in leak lines. */
  constructor(
    private readonly where: string,
    private readonly options: CleanupStackOptions,
  ) {}

  /**
   * Registers the undo of a resource just acquired. After `unwind`, the undo runs at once (a resource acquired
   * by work that outlived its build is still released) and the returned handle is spent.
   */
  defer(what: string, undo: Undo): Deferred {
    const entry = { what, undo };
    if (this.unwound) {
      void this.run(entry);
      return { what, release: async () => undefined, dismiss: () => undefined };
    }
    this.entries.push(entry);
    const take = (): boolean => {
      const at = this.entries.indexOf(entry);
      if (at < 0) return false;
      this.entries.splice(at, 1);
      return true;
    };
    return {
      what,
      release: async () => {
        if (!take()) return;
        const leak = await this.run(entry);
        if (leak) throw new Error(`releasing ${what} failed: ${leak.error}`);
      },
      dismiss: () => {
        take();
      },
    };
  }

  /** What is still held, newest first. */
  held(): string[] {
    return this.entries.map((e) => e.what).reverse();
  }

  /**
   * Runs every undo still registered, newest first, each to its end even when one fails; returns what leaked.
   * Idempotent: a second call finds nothing left and returns no leaks.
   */
  async unwind(): Promise<Leak[]> {
    this.unwound = true;
    const leaks: Leak[] = [];
    for (let entry = this.entries.pop(); entry; entry = this.entries.pop()) {
      const leak = await this.run(entry);
      if (leak) leaks.push(leak);
    }
    return leaks;
  }

  private async run(entry: { what: string; undo: Undo }): Promise<Leak | undefined> {
    const bound = withTimeout(new AbortController().signal, this.options.undoTimeoutMs ?? 120_000);
    try {
      await entry.undo(bound.signal);
      return undefined;
    } catch (err) {
      const leak = { what: entry.what, error: errorMessage(err) };
      this.options.log(leakLine(this.where, leak));
      return leak;
    } finally {
      bound.clear();
    }
  }
}

/**
 * A catch handler for an undo that runs outside a stack (a temporary file removed at the end of the call that
 * made it): the failure is logged with what leaked, and the caller goes on.
 */
export function logLeak(where: string, what: string, log: (text: string) => void): (err: unknown) => void {
  return (err) => log(leakLine(where, { what, error: errorMessage(err) }));
}

/**
 * For code without a log (a driver call that fails half-way): the leaks of an unwind travel on the error that
 * caused it, one leak line each after its message. Returns `err`, to rethrow.
 */
export function withLeaks(err: unknown, where: string, leaks: readonly Leak[]): unknown {
  if (leaks.length === 0 || !(err instanceof Error)) return err;
  err.message += `\n${leaks.map((l) => leakLine(where, l)).join('').trimEnd()}`;
  return err;
}
