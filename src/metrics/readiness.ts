/**
 * Readiness: whether this node can do its work now, i.e. whether it reaches what it shares with the cluster
 * (the store and the object store). Each dependency answers a cheap ping within a short timeout. A ping that
 * hangs (a database host that drops packets) is not asked again until it settles, so frequent probes cannot pile
 * up connections behind it. The answer names what is unreachable with a short reason (an error code or name),
 * never a host path or address: probes are unauthenticated.
 */
import { redactHostPaths } from '../domain/host-paths.js';

/** Something a node needs: answers once it can be reached, rejects when it cannot. */
export interface Pingable {
  ping(): Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  /** Each dependency's state: `ok`, or why it is unreachable. */
  checks: Record<string, string>;
  /** The names of the unreachable ones, in check order. */
  unreachable: string[];
}

/** A short, address-free reason: the error's code (ECONNREFUSED, 57P01), its name (NoSuchBucket) or `unreachable`. */
function shortReason(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; Code?: unknown };
  for (const candidate of [e.code, e.Code, e.name]) {
    if (typeof candidate === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(candidate) && candidate !== 'Error') return candidate;
  }
  return 'unreachable';
}

const TIMED_OUT = Symbol('timed out');

export class Readiness {
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly lastState = new Map<string, string>();

  /**
   * `checks` in the order they are reported; `timeoutMs` per check (default 2 s); `log` hears a dependency's full
   * error once when it becomes unreachable, and when it is back.
   */
  constructor(
    private readonly checks: Readonly<Record<string, Pingable>>,
    private readonly options: { timeoutMs?: number; log?: (line: string) => void } = {},
  ) {}

  /** Pings every dependency at once and reports. Never rejects. */
  async check(): Promise<ReadinessReport> {
    const timeoutMs = this.options.timeoutMs ?? 2_000;
    const names = Object.keys(this.checks);
    const results = await Promise.all(names.map((name) => this.checkOne(name, timeoutMs)));
    const checks: Record<string, string> = {};
    names.forEach((name, i) => (checks[name] = results[i]!));
    const unreachable = names.filter((name) => checks[name] !== 'ok');
    return { ready: unreachable.length === 0, checks, unreachable };
  }

  private async checkOne(name: string, timeoutMs: number): Promise<string> {
    let ping = this.inFlight.get(name);
    if (!ping) {
      const started = Promise.resolve().then(() => this.checks[name]!.ping());
      ping = started;
      this.inFlight.set(name, started);
      void started.then(
        () => this.inFlight.delete(name),
        () => this.inFlight.delete(name),
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs)));
    let state: string;
    let detail: string;
    try {
      const outcome = await Promise.race([ping, timeout]);
      state = outcome === TIMED_OUT ? `no answer within ${timeoutMs} ms` : 'ok';
      detail = state;
    } catch (err) {
      state = shortReason(err);
      detail = redactHostPaths(err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
    const before = this.lastState.get(name);
    this.lastState.set(name, state);
    if (state !== 'ok' && before !== state) this.options.log?.(`readiness: ${name} is unreachable: ${detail}`);
    if (state === 'ok' && before !== undefined && before !== 'ok') this.options.log?.(`readiness: ${name} is reachable again`);
    return state;
  }
}
